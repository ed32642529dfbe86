#!/usr/bin/env node
// Aggregate generation throughput of a heldout sweep at 1, 4 and 8 parallel sequences, against
//  (a) raw node-llama-cpp doing the same generations (same prompts and token ids, same binary,
//      threads, context size and greedy decoding) with the same number of sequences driven
//      together in one context, in this process, and
//  (b) llama.cpp's own llama-batched-bench (built from node-llama-cpp's bundled source by
//      bench/build-llama-tools.sh) at the same P, with the workload's mean prompt and completion
//      lengths,
// interleaved round by round (the order rotates) because this machine drifts ±30% within minutes.
// Figure compared: completion tokens ÷ wall time of the generation phase (prompts included).
//
//   npm run build && node bench/sweep-throughput.mjs [rounds=3] [P list=1,4,8]
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getEngine, disposeEngines } from "../dist/backends/llama-engine.js";
import { DEFAULT_RUNTIME } from "../dist/core/model-spec.js";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const rounds = Number(process.argv[2] ?? 3);
const parallels = (process.argv[3] ?? "1,4,8").split(",").map(Number);
const work = mkdtempSync(join(tmpdir(), "heldout-bench-"));
const bin = execFileSync("bash", [join(root, "bench/build-llama-tools.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();

// The arith workload: the first 40 problems of each area of tasks/arith (answers end at EOS).
const arithSuite = join(work, "arith");
cpSync(join(root, "tasks/arith"), arithSuite, { recursive: true });
const arithLines = readFileSync(join(arithSuite, "tasks.jsonl"), "utf8").trim().split("\n");
writeFileSync(join(arithSuite, "tasks.jsonl"), arithLines.filter((l) => Number(JSON.parse(l).id.split("-")[1]) <= 40).join("\n") + "\n");

const workloads = [
  { name: "stories260K", manifest: "models/stories260k.yaml", gguf: "../shared/models/stories260K.gguf", suite: join(root, "tasks/tinystories"), maxTokens: 64, contextSize: 256 },
  { name: "arith-step600", manifest: "models/arith-step600.yaml", gguf: "../shared/models/arith/arith-step600.gguf", suite: arithSuite, maxTokens: 8, contextSize: 64 },
];

const engine = await getEngine({ ...DEFAULT_RUNTIME, gpu: "cpu" }, resolve(root, workloads[0].gguf));
const { llama, info } = engine;

function heldout(w, p, runId) {
  const profile = join(work, `p${p}-${w.name}.yaml`);
  writeFileSync(profile, `name: bench\nsampling:\n  maxTokens: ${w.maxTokens}\nparallel: ${p}\n`);
  const r = spawnSync(process.execPath, [join(root, "bin/heldout.js"), "run", "--suite", w.suite, "--allow-unfrozen", "--model", w.manifest, "--profile", profile, "--out", work, "--run-id", runId, "--json", "-q"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  const cell = JSON.parse(r.stdout).cells[0];
  const records = readFileSync(join(work, runId, "records.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  return { rate: cell.aggregateCompletionTokensPerSecond, tokens: cell.tokens.completion, prompts: records.map((x) => ({ ids: x.promptTokenIds, n: x.completionTokens })) };
}

async function raw(model, w, p, prompts) {
  const context = await model.createContext({ sequences: p, contextSize: w.contextSize, threads: 1, flashAttention: false });
  const slots = Array.from({ length: p }, () => ({ sequence: context.getSequence(), it: null, n: 0 }));
  let next = 0;
  let tokens = 0;
  const t0 = performance.now();
  for (;;) {
    for (const s of slots)
      if (!s.it && next < prompts.length) {
        s.it = s.sequence.evaluate(prompts[next++].ids, { temperature: 0, topK: 0, topP: 1, minP: 0, seed: 42 })[Symbol.asyncIterator]();
        s.n = 0;
      }
    const busy = slots.filter((s) => s.it);
    if (busy.length === 0) break;
    const steps = await Promise.all(busy.map((s) => s.it.next()));
    for (let i = 0; i < busy.length; i++) {
      const s = busy[i];
      if (steps[i].done) {
        s.it = null;
      } else if (++s.n >= w.maxTokens) {
        await s.it.return();
        s.it = null;
      }
      if (!s.it) {
        tokens += s.n;
        await s.sequence.clearHistory();
      }
    }
  }
  const ms = performance.now() - t0;
  await context.dispose();
  return { rate: (tokens * 1000) / ms, tokens };
}

function batched(w, p, npp, ntg) {
  const out = execFileSync(join(bin, "llama-batched-bench"), ["-m", resolve(root, w.gguf), "-c", String(Math.max(2048, p * (npp + ntg + 8))), "-b", "512", "-ub", "512", "-npp", String(npp), "-ntg", String(ntg), "-npl", String(p), "-t", "1", "-tb", "1", "--output-format", "jsonl"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const row = out.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).pop();
  return { rate: (row.pl * row.tg) / row.t, tg: row.speed_tg };
}

const results = [];
for (const w of workloads) {
  const model = await llama.loadModel({ modelPath: resolve(root, w.gguf), gpuLayers: 0 });
  // Warm-up: one heldout run and one raw pass, discarded (the first runs in a process are JIT-cold).
  const warm = heldout(w, 1, `${w.name}-warm`);
  await raw(model, w, 1, warm.prompts);
  const npp = Math.round(warm.prompts.reduce((s, x) => s + x.ids.length, 0) / warm.prompts.length);
  const ntg = Math.max(1, Math.round(warm.prompts.reduce((s, x) => s + x.n, 0) / warm.prompts.length));
  for (const p of parallels) {
    const h = [], r = [], b = [];
    for (let round = 0; round < rounds; round++) {
      const order = [0, 1, 2].map((i) => (i + round) % 3);
      for (const k of order) {
        if (k === 0) h.push(heldout(w, p, `${w.name}-p${p}-r${round}`));
        if (k === 1) r.push(await raw(model, w, p, warm.prompts));
        if (k === 2) b.push(batched(w, p, npp, ntg));
      }
    }
    for (let i = 0; i < rounds; i++) if (h[i].tokens !== r[i].tokens) throw new Error(`${w.name} P=${p}: heldout generated ${h[i].tokens} tokens, raw ${r[i].tokens}`);
    const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
    results.push({ model: w.name, p, npp, ntg, heldout: med(h.map((x) => x.rate)), raw: med(r.map((x) => x.rate)), batched: med(b.map((x) => x.rate)), batchedTg: med(b.map((x) => x.tg)), ratios: h.map((x, i) => x.rate / r[i].rate) });
  }
  await model.dispose();
}
await disposeEngines();
console.log(`binary ${info.binary} (${info.cpuVariant ?? "?"}), threads 1, ${rounds} interleaved rounds per P, median of rounds; completion tokens/s over the generation phase`);
console.log("model           P  prompt/compl tokens  heldout   raw node-llama-cpp  llama-batched-bench  heldout/raw  heldout/batched");
for (const x of results) {
  console.log(
    `${x.model.padEnd(14)} ${String(x.p).padStart(2)}  ${`${x.npp}/${x.ntg}`.padStart(19)}  ${x.heldout.toFixed(0).padStart(7)}  ${x.raw.toFixed(0).padStart(18)}  ${x.batched.toFixed(0).padStart(19)}  ${(x.heldout / x.raw).toFixed(3).padStart(11)}  ${(x.heldout / x.batched).toFixed(3).padStart(15)}`,
  );
}
