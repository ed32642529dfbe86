#!/usr/bin/env node
// Time per variant of `heldout quantize-sweep`: quantizing (llama-quantize, from a cold cache),
// the suite run (model load + generation), and the next-token distributions against the source;
// then the source's reference pass and the llama-perplexity cross-check, and the wall time.
//   npm run build && node bench/quantize-sweep.mjs [--model models/arith-step1500.yaml] [--types q8_0,q5_0,q4_0,q4_k_m] [--suite tasks/arith]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const model = opt("--model", "models/arith-step1500.yaml");
const types = opt("--types", "q8_0,q5_0,q4_0,q4_k_m");
const suite = opt("--suite", "tasks/arith");
const out = mkdtempSync(join(tmpdir(), "heldout-bench-quant-"));

// A cold cache for this source: every variant is quantized during the timed run.
const { quantizeDir } = await import(join(root, "dist/weights/quantize.js"));
const { loadModelSpec, resolveModel } = await import(join(root, "dist/store/models.js"));
const source = await resolveModel(loadModelSpec(resolve(root, model)));
rmSync(quantizeDir(source.sha256), { recursive: true, force: true });

const started = performance.now();
const r = spawnSync(process.execPath, [join(root, "bin/heldout.js"), "quantize-sweep", "--model", model, "--types", types, "--suite", suite, "--out", out, "--run-id", "bench", "--no-report"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const wall = performance.now() - started;
if (r.status !== 0) {
  process.stderr.write(r.stdout);
  throw new Error(`quantize-sweep exited with ${r.status}`);
}
for (const line of r.stderr.split("\n")) if (/warning|failed|no divergence/i.test(line)) console.log(line);
const q = JSON.parse(readFileSync(join(out, "bench", "quantization.json"), "utf8"));
const s = (ms) => (ms === null || ms === undefined ? "–" : (ms / 1000).toFixed(2));
console.log(`quantize-sweep of ${q.source.modelId} (${(q.source.sizeBytes / 2 ** 20).toFixed(2)} MiB) on ${q.suite.name} (${q.suite.scoredTasks} tasks, ${q.suite.positions} positions), seconds:`);
console.log(["variant", "size MiB", "quantize", "suite run", "distributions", "total"].map((h, i) => (i ? h.padStart(15) : h.padEnd(8))).join(""));
for (const v of q.variants) {
  const total = (v.timings.quantizeMs ?? 0) + (v.timings.runMs ?? 0) + v.timings.divergenceMs;
  console.log([v.type.padEnd(8), (v.sizeBytes / 2 ** 20).toFixed(2), s(v.timings.quantizeMs), s(v.timings.runMs), s(v.timings.divergenceMs), s(total)].map((c, i) => (i ? c.padStart(15) : c)).join(""));
}
console.log(`source: suite run ${s(q.reference.runMs)}; reference distributions ${s(q.reference.ms)}; cross-check (${q.crossCheck?.type ?? "none"}) ${s(q.crossCheck?.ms)}`);
console.log(`wall time of the whole sweep: ${s(wall)} s (node start, run setup and report excluded from the per-variant figures)`);
rmSync(out, { recursive: true, force: true });
