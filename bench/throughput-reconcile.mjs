#!/usr/bin/env node
// Throughput reconciliation on this machine: runs the demo-sized suites through stories260K
// (tasks/tinystories: its 8-token outputs, and again with 64-token outputs) and arith-step600
// (tasks/arith, 1,000 tasks) with both engines (embedded node-llama-cpp and llama-server), then
// `heldout check throughput` on every cell: heldout's client-side tok/s, the engine's own figures
// and llama-bench (built by bench/build-llama-tools.sh) on the same file, threads and lengths,
// repeated until the 95% interval is within ±CI_WIDTH% or MAX_REPS; and the gap in ms.
//   npm run build && node bench/throughput-reconcile.mjs [ci-width=5] [max-reps=30]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const { formatReconciliation } = await import(join(root, "dist/check/throughput.js"));
const ciWidth = process.argv[2] ?? "5";
const maxReps = process.argv[3] ?? "30";
const bin = execFileSync("bash", [join(root, "bench/build-llama-tools.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
const work = mkdtempSync(join(tmpdir(), "heldout-reconcile-"));
writeFileSync(join(work, "long.yaml"), "name: long\nsampling:\n  maxTokens: 64\n");

const heldout = (args) => {
  const r = spawnSync(process.execPath, [join(root, "bin/heldout.js"), ...args], { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  if (r.status !== 0) throw new Error(`heldout ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
};

const cases = [
  { name: "stories260K", suite: "tasks/tinystories", model: "models/stories260k.yaml", profile: null },
  { name: "stories260K-64", suite: "tasks/tinystories", model: "models/stories260k.yaml", profile: join(work, "long.yaml") },
  { name: "arith-step600", suite: "tasks/arith", model: "models/arith-step600.yaml", profile: null },
];
const results = [];
for (const c of cases) {
  for (const engine of ["embedded", "llama-server"]) {
    const id = `${c.name}-${engine}`;
    heldout(["run", "--suite", c.suite, "--model", c.model, ...(c.profile ? ["--profile", c.profile] : []), "--engine", engine, "--out", work, "--run-id", id, "-q", "--no-report"]);
    const rec = JSON.parse(heldout(["check", "throughput", join(work, id), "--ci-width", ciWidth, "--max-reps", maxReps, "--json"]));
    results.push({ id, rec });
    console.log(`\n════ ${id} ════`);
    console.log(formatReconciliation(rec));
  }
}

// One line per cell: the three sources and the terms, for the closing note.
const n = (v, d = 0) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const ci = (e) => (e ? `${n(e.value)} ±${n(e.halfWidthPercent, 1)}%` : "–");
const terms = (g) => (g ? g.terms.map((t) => n(t.ms, 3)).join(" + ") + ` = ${n(g.total.ms, 3)}` : "–");
console.log(`\n${cpus()[0]?.model ?? "CPU"}, ${cpus().length} logical cores; llama-bench from ${bin}; repetitions until ±${ciWidth}% (95%) or ${maxReps}`);
console.log("cell                         out  gen tok/s: client       engine        llama-bench     gen ms/token: bench + inside + outside = client    TTFT ms: bench pp + inside + outside = client");
for (const { id, rec } of results) {
  const [client, engine, bench] = rec.rows;
  console.log(
    `${id.padEnd(27)} ${String(rec.lengths?.completionMedian ?? "–").padStart(4)}  ${ci(client.generation).padEnd(18)} ${ci(engine.generation).padEnd(13)} ${ci(bench.generation).padEnd(15)} ${terms(rec.gaps.generation).padEnd(44)} ${terms(rec.gaps.prompt)}`,
  );
}
