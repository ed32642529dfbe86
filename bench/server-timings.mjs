#!/usr/bin/env node
// heldout's client-side generation tok/s through llama-server against llama-server's own
// reported timings for the same requests (its `timings.predicted_per_second`), and the same for
// time to first token vs the server's prompt_ms. Starts a llama-server (built by
// bench/build-llama-tools.sh from node-llama-cpp's bundled source) on 127.0.0.1, runs the
// tinystories suite through heldout's OpenAI-compatible backend with 64-token generations, and
// compares request by request.
//   npm run build && node bench/server-timings.mjs [parallel=1]
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const parallel = Number(process.argv[2] ?? 1);
const bin = execFileSync("bash", [join(root, "bench/build-llama-tools.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
const port = await new Promise((done) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => done(p));
  });
});
const server = spawn(join(bin, "llama-server"), ["-m", resolve(root, "../shared/models/stories260K.gguf"), "--host", "127.0.0.1", "--port", String(port), "-a", "stories260k", "-c", "4096", "-np", String(Math.max(1, parallel)), "-t", "1", "-fa", "off"], { stdio: "ignore" });
const url = `http://127.0.0.1:${port}`;
for (let i = 0; i < 600; i++) {
  try {
    if ((await fetch(`${url}/health`)).ok) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 100));
}
const work = mkdtempSync(join(tmpdir(), "heldout-server-bench-"));
writeFileSync(join(work, "m.yaml"), `id: served\nbackend: openai\nserver:\n  endpoints: [${url}]\n  model: stories260k\n`);
writeFileSync(join(work, "p.yaml"), `name: p\nsampling:\n  maxTokens: 64\nparallel: ${parallel}\nsamples: 3\n`);
const r = spawnSync(process.execPath, [join(root, "bin/heldout.js"), "run", "--suite", join(root, "tasks/tinystories"), "--model", join(work, "m.yaml"), "--profile", join(work, "p.yaml"), "--out", work, "--run-id", "b", "-q"], { cwd: root, encoding: "utf8" });
server.kill("SIGKILL");
if (r.status !== 0) throw new Error(r.stderr);
const records = readFileSync(join(work, "b", "records.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((x) => x.serverTimings && x.generationTokensPerSecond);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)] + s[Math.ceil(m)]) / 2;
};
const client = records.map((x) => x.generationTokensPerSecond);
const serverRate = records.map((x) => x.serverTimings.predicted_per_second);
const ratios = records.map((x) => x.generationTokensPerSecond / x.serverTimings.predicted_per_second);
const ttft = records.map((x) => x.ttftMs);
const promptMs = records.map((x) => x.serverTimings.prompt_ms);
console.log(`llama-server (${bin}), stories260K, ${records.length} generations of up to 64 tokens, parallel ${parallel}, threads 1`);
console.log(`generation tok/s: heldout (client, (n−1)/(last−first token)) median ${median(client).toFixed(0)}; llama-server's predicted_per_second median ${median(serverRate).toFixed(0)}`);
console.log(`ratio client/server per request: median ${median(ratios).toFixed(3)}, P5–P95 ${[...ratios].sort((a, b) => a - b)[Math.floor(ratios.length * 0.05)].toFixed(3)}–${[...ratios].sort((a, b) => a - b)[Math.floor(ratios.length * 0.95)].toFixed(3)}`);
console.log(`time to first token: heldout (client) median ${median(ttft).toFixed(2)} ms; llama-server prompt_ms median ${median(promptMs).toFixed(2)} ms`);
