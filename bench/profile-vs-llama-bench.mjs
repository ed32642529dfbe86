#!/usr/bin/env node
// heldout's profiler (the embedded engine with the prebuilt and the source-built binaries, and
// the llama-server engine) beside llama.cpp's own llama-bench (built from node-llama-cpp's bundled source by bench/build-llama-tools.sh) on
// the same models and settings: pp512 and tg128 at 1 thread, 5 repetitions, interleaved per round.
//   npm run build && node bench/profile-vs-llama-bench.mjs [rounds=2]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const rounds = Number(process.argv[2] ?? 2);
const bin = execFileSync("bash", [join(root, "bench/build-llama-tools.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
const work = mkdtempSync(join(tmpdir(), "heldout-profile-bench-"));
const models = [
  ["stories260K", "models/stories260k.yaml", "../shared/models/stories260K.gguf"],
  ["arith-step600", "models/arith-step600.yaml", "../shared/models/arith/arith-step600.gguf"],
];
const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] : NaN);
const rows = [];
for (const [name, manifest, gguf] of models) {
  const got = { prebuilt: { pp: [], tg: [] }, source: { pp: [], tg: [] }, server: { pp: [], tg: [] }, bench: { pp: [], tg: [] } };
  for (let round = 0; round < rounds; round++) {
    const order = ["prebuilt", "source", "server", "bench"].map((_, i, a) => a[(i + round) % 4]);
    for (const which of order) {
      if (which === "bench") {
        const out = execFileSync(join(bin, "llama-bench"), ["-m", resolve(root, gguf), "-p", "512", "-n", "128", "-t", "1", "-r", "5", "-fa", "0", "-o", "json"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
        for (const r of JSON.parse(out)) (r.n_prompt > 0 ? got.bench.pp : got.bench.tg).push(r.avg_ts);
      } else {
        const id = `${name}-${which}-${round}`;
        const engineArgs = which === "server" ? ["--engine", "llama-server"] : ["--binary", which];
        const r = spawnSync(process.execPath, [join(root, "bin/heldout.js"), "profile", "--model", manifest, ...engineArgs, "--pp", "512", "--tg", "128", "--threads", "1", "--reps", "5", "--warmup", "1", "--gpu", "cpu", "--format", "json", "--out", work, "--run-id", id], { cwd: root, encoding: "utf8" });
        if (r.status !== 0) throw new Error(r.stderr);
        // A failed measurement (llama-server caps a slot's context at the trained length: arith's is 64) stays out.
        for (const x of JSON.parse(r.stdout)) if (x.stats.median !== null) got[which][x.test.kind].push(x.stats.median);
      }
    }
  }
  for (const kind of ["pp", "tg"]) {
    const b = median(got.bench[kind]);
    rows.push([name, `${kind}${kind === "pp" ? 512 : 128}`, median(got.prebuilt[kind]), median(got.source[kind]), median(got.server[kind]), b]);
  }
}
console.log(`1 thread, flash attention off, 5 reps × ${rounds} interleaved rounds (medians); llama-bench from ${bin}`);
console.log("model          test   embedded prebuilt  embedded source  llama-server engine  llama-bench  prebuilt/bench  source/bench  server/bench");
for (const [m, t, p, s, v, b] of rows) {
  const n = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
  console.log(`${m.padEnd(14)} ${t.padEnd(6)} ${n(p).padStart(17)}  ${n(s).padStart(15)}  ${n(v).padStart(19)}  ${n(b).padStart(11)}  ${n(p / b, 3).padStart(14)}  ${n(s / b, 3).padStart(12)}  ${n(v / b, 3).padStart(12)}`);
}
