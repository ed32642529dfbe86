// Raw node-llama-cpp doing a list of generations with P sequences of one context driven together
// (every step advances every busy sequence and awaits them together), greedy, stopping at EOS or
// maxTokens: the reference heldout's engine hosts are measured against. Used in-process by
// sweep-throughput.mjs, and as a fresh process (like an engine host):
//   node bench/raw-lockstep.mjs <model.gguf> <P> <maxTokens> <contextSize> <prompts.json> [warmupMs=300]
// which prints {"rate": completion tokens/s, "tokens": n}.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export async function rawLockstep(model, { p, maxTokens, contextSize, prompts }) {
  const context = await model.createContext({ sequences: p, contextSize, threads: 1, flashAttention: false });
  const slots = Array.from({ length: p }, () => ({ sequence: context.getSequence(), it: null, n: 0 }));
  let next = 0;
  let tokens = 0;
  const t0 = performance.now();
  for (;;) {
    for (const s of slots)
      if (!s.it && next < prompts.length) {
        s.it = s.sequence.evaluate(prompts[next++], { temperature: 0, topK: 0, topP: 1, minP: 0, seed: 42 })[Symbol.asyncIterator]();
        s.n = 0;
      }
    const busy = slots.filter((s) => s.it);
    if (busy.length === 0) break;
    const steps = await Promise.all(busy.map((s) => s.it.next()));
    for (let i = 0; i < busy.length; i++) {
      const s = busy[i];
      if (steps[i].done) s.it = null;
      else if (++s.n >= maxTokens) {
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

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [modelPath, p, maxTokens, contextSize, promptsFile, warmupMs = "300"] = process.argv.slice(2);
  const { getEngine } = await import("../dist/backends/llama-engine.js");
  const { DEFAULT_RUNTIME } = await import("../dist/core/model-spec.js");
  const { llama } = await getEngine({ ...DEFAULT_RUNTIME, gpu: "cpu" }, modelPath);
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const prompts = JSON.parse(readFileSync(promptsFile, "utf8"));
  const job = { p: Number(p), maxTokens: Number(maxTokens), contextSize: Number(contextSize), prompts };
  // The same untimed warm-up heldout's hosts do: generations of the first prompt (≤ 32 tokens)
  // on P sequences for about 300 ms, at least one, at most 64.
  const warmStart = performance.now();
  for (let i = 0; i < 64; i++) {
    await rawLockstep(model, { ...job, maxTokens: Math.min(job.maxTokens, 32), prompts: Array(job.p).fill(prompts[0]) });
    if (performance.now() - warmStart >= Number(warmupMs)) break;
  }
  console.log(JSON.stringify(await rawLockstep(model, job)));
  process.exit(0);
}
