#!/usr/bin/env node
// heldout's generation tokens/s against a bare node-llama-cpp `sequence.evaluate` loop: same
// binding, model, threads, context settings and prompt, in one process, interleaved (the order
// alternates every round) after warm-up rounds, because this machine drifts ±30% within minutes.
// Both decode greedily to the same tokens; both rates are (tokens − 1) ÷ (last − first token).
//
//   npm run build && node bench/generation-overhead.mjs [model.gguf] [rounds=15] [tokens=96] [warmup=5]
import { resolve } from "node:path";
import { LlamaBackend } from "../dist/backends/llama.js";
import { disposeEngines } from "../dist/backends/llama-engine.js";
import { DEFAULT_RUNTIME } from "../dist/core/model-spec.js";
import { DEFAULT_SAMPLING } from "../dist/core/profile.js";

const [modelArg, roundsArg, tokensArg, warmupArg] = process.argv.slice(2);
const modelPath = resolve(modelArg ?? "../shared/models/stories260K.gguf");
const rounds = Number(roundsArg ?? 15);
const maxTokens = Number(tokensArg ?? 96);
const warmup = Number(warmupArg ?? 5);
const promptText = "Once upon a time, there was a little";
// HELDOUT_BINARY=prebuilt|source|auto picks the node-llama-cpp binary (auto: a local build if there is one).
const runtime = { ...DEFAULT_RUNTIME, threads: 1, contextSize: 256, flashAttention: false, gpu: "cpu", binary: process.env.HELDOUT_BINARY ?? "auto" };

const backend = new LlamaBackend();
const loaded = await backend.load({ backend: "llama", path: modelPath, runtime });
const prompt = backend.preparePromptNow(promptText, "never");
// The same model object heldout loaded, for the bare loop: no second copy, same binding.
const model = backend["model"];

async function viaHeldout() {
  let result;
  await backend.generateAll([{ key: "x", prompt, maxTokens, sampling: { ...DEFAULT_SAMPLING }, timeoutMs: 60_000 }], { threads: 1, contextSize: 256, flashAttention: false, parallel: 1 }, (_, g) => {
    result = g;
  });
  const t = result.timings;
  return { tokens: result.completionTokens, rate: ((result.completionTokens - 1) * 1000) / (t.lastTokenMs - t.firstTokenMs) };
}

async function bare() {
  const context = await model.createContext({ sequences: 1, contextSize: runtime.contextSize, threads: 1, flashAttention: false });
  const sequence = context.getSequence();
  let n = 0;
  let first = 0;
  let last = 0;
  for await (const _ of sequence.evaluate(prompt.tokenIds, { temperature: 0, topK: 0, topP: 1, minP: 0, seed: 42 })) {
    last = performance.now();
    if (n === 0) first = last;
    if (++n >= maxTokens) break;
  }
  await context.dispose();
  return { tokens: n, rate: ((n - 1) * 1000) / (last - first) };
}

for (let i = 0; i < warmup; i++) {
  await viaHeldout();
  await bare();
}
const h = [];
const b = [];
const ratios = [];
for (let i = 0; i < rounds; i++) {
  const order = i % 2 === 0 ? [viaHeldout, bare] : [bare, viaHeldout];
  const res = {};
  for (const f of order) res[f === bare ? "b" : "h"] = await f();
  if (res.h.tokens !== res.b.tokens) throw new Error(`token counts differ: heldout ${res.h.tokens}, bare ${res.b.tokens}`);
  h.push(res.h.rate);
  b.push(res.b.rate);
  ratios.push(res.h.rate / res.b.rate);
}
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)] + s[Math.ceil(m)]) / 2;
};
const q = (xs, p) => {
  const s = [...xs].sort((x, y) => x - y);
  const k = (s.length - 1) * p;
  return s[Math.floor(k)] + (k - Math.floor(k)) * (s[Math.ceil(k)] - s[Math.floor(k)]);
};
const engine = loaded.engine;
console.log(`model ${modelPath}`);
console.log(`binary ${engine.binary}, CPU variant ${engine.cpuVariant}, threads 1, ${maxTokens} tokens, ${rounds} interleaved rounds after ${warmup} warm-up rounds`);
console.log(`heldout generation tok/s: median ${median(h).toFixed(0)} (IQR ${q(h, 0.25).toFixed(0)}–${q(h, 0.75).toFixed(0)})`);
console.log(`bare evaluate loop tok/s: median ${median(b).toFixed(0)} (IQR ${q(b, 0.25).toFixed(0)}–${q(b, 0.75).toFixed(0)})`);
console.log(`ratio heldout / bare: median of paired rounds ${median(ratios).toFixed(3)} (IQR ${q(ratios, 0.25).toFixed(3)}–${q(ratios, 0.75).toFixed(3)}); ratio of medians ${(median(h) / median(b)).toFixed(3)}`);
await backend.unload();
await disposeEngines();
