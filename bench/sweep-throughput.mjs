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
import { rawLockstep } from "./raw-lockstep.mjs";

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
  return rawLockstep(model, { p, maxTokens: w.maxTokens, contextSize: w.contextSize, prompts: prompts.map((x) => x.ids) });
}

/** The same raw loop in a fresh process, as heldout's engine hosts are (cold JIT, small heap). */
function rawFresh(w, p, prompts) {
  const file = join(work, `prompts-${w.name}.json`);
  writeFileSync(file, JSON.stringify(prompts.map((x) => x.ids)));
  const r = spawnSync(process.execPath, [join(root, "bench/raw-lockstep.mjs"), resolve(root, w.gguf), String(p), String(w.maxTokens), String(w.contextSize), file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function batched(w, p, npp, ntg) {
  const args = ["-m", resolve(root, w.gguf), "-c", String(Math.max(2048, p * (npp + ntg + 8))), "-b", "512", "-ub", "512", "-npp", String(npp), "-ntg", String(ntg), "-npl", String(p), "-t", "1", "-tb", "1", "--output-format", "jsonl"];
  let json = null;
  let stderr = "";
  for (let attempt = 0; attempt < 3 && !json; attempt++) {
    const r = spawnSync(join(bin, "llama-batched-bench"), args, { encoding: "utf8" });
    json = r.stdout.match(/\{"n_kv_max".*\}/g);
    stderr = `status ${r.status} signal ${r.signal}\n${r.stderr.slice(-1500)}`;
  }
  if (!json) throw new Error(`llama-batched-bench printed no result for ${args.join(" ")}\n${stderr}`);
  const row = JSON.parse(json[json.length - 1]);
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
    const h = [], r = [], f = [], b = [];
    for (let round = 0; round < rounds; round++) {
      const order = [0, 1, 2, 3].map((i) => (i + round) % 4);
      for (const k of order) {
        if (k === 0) h.push(heldout(w, p, `${w.name}-p${p}-r${round}`));
        if (k === 1) r.push(await raw(model, w, p, warm.prompts));
        if (k === 2) f.push(rawFresh(w, p, warm.prompts));
        if (k === 3) b.push(batched(w, p, npp, ntg));
      }
    }
    for (let i = 0; i < rounds; i++) if (h[i].tokens !== r[i].tokens) throw new Error(`${w.name} P=${p}: heldout generated ${h[i].tokens} tokens, raw ${r[i].tokens}`);
    const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
    results.push({ model: w.name, p, npp, ntg, heldout: med(h.map((x) => x.rate)), raw: med(r.map((x) => x.rate)), fresh: med(f.map((x) => x.rate)), batched: med(b.map((x) => x.rate)), batchedTg: med(b.map((x) => x.tg)), ratios: h.map((x, i) => x.rate / r[i].rate) });
  }
  await model.dispose();
}
await disposeEngines();
console.log(`binary ${info.binary} (${info.cpuVariant ?? "?"}), threads 1, ${rounds} interleaved rounds per P, median of rounds; completion tokens/s over the generation phase`);
console.log("raw (warm): the raw loop in this long-running process; raw (fresh): the same loop in a new process after the same ~300 ms warm-up heldout's hosts do");
console.log("model           P  prompt/compl tokens  heldout  raw (warm)  raw (fresh)  batched-bench  heldout/raw warm  heldout/raw fresh  heldout/batched");
for (const x of results) {
  const cols = [x.heldout, x.raw, x.fresh, x.batched].map((v) => v.toFixed(0));
  console.log(
    `${x.model.padEnd(14)} ${String(x.p).padStart(2)}  ${`${x.npp}/${x.ntg}`.padStart(19)}  ${cols[0].padStart(7)}  ${cols[1].padStart(10)}  ${cols[2].padStart(11)}  ${cols[3].padStart(13)}  ${(x.heldout / x.raw).toFixed(3).padStart(16)}  ${(x.heldout / x.fresh).toFixed(3).padStart(17)}  ${(x.heldout / x.batched).toFixed(3).padStart(15)}`,
  );
}
