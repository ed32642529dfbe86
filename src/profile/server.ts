import { readGgufFileInfo } from "node-llama-cpp";
import { startLlamaServerProcess } from "../backends/llama-server-process.js";
import { createRng, randomInt } from "../stats/random.js";
import type { RepetitionRule } from "../stats/repetitions.js";
import { repeat, type ProfilePoint, type ProfileTest } from "./grid.js";
import type { WorkerLine } from "./worker.js";

/**
 * The profiler's native engine: llama.cpp's own llama-server, one process per setting, measured
 * by its own timings (prompt_per_second, predicted_per_second) as llama-bench measures: random
 * token ids, generation past end-of-sequence (`ignore_eos`) to a fixed count, P requests at once
 * on P slots (their rates added up), the context depth filled first through the prompt cache.
 */
export async function profileWithServer(modelPath: string, points: readonly ProfilePoint[], tests: readonly ProfileTest[], reps: number | RepetitionRule, warmup: number): Promise<WorkerLine[]> {
  const info = await readGgufFileInfo(modelPath);
  const vocab = info.metadata.tokenizer?.ggml?.tokens?.length ?? 256;
  const rng = createRng(1234);
  const random = (n: number) => Array.from({ length: n }, () => 3 + randomInt(rng, Math.max(1, vocab - 3)));
  const lines: WorkerLine[] = [];
  for (const point of points) {
    const longest = Math.max(...tests.map((t) => t.tokens)) + point.depth + 16;
    let server: Awaited<ReturnType<typeof startLlamaServerProcess>> | undefined;
    try {
      server = await startLlamaServerProcess({
        modelPath,
        threads: point.threads,
        slots: point.parallel,
        contextSize: longest * point.parallel,
        flashAttention: point.flashAttention,
        gpuLayers: point.gpuLayers,
        alias: "model",
        ...(point.batchSize ? { batchSize: point.batchSize } : {}),
      });
    } catch (error) {
      for (const test of tests) lines.push({ point, test, engine: { binary: "llama-server" }, samples: [], error: (error as Error).message });
      continue;
    }
    const url = server.url;
    const complete = async (slot: number, prompt: number[], nPredict: number, cache: boolean) => {
      const r = await fetch(`${url}/completion`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt, n_predict: nPredict, ignore_eos: true, temperature: 0, top_k: 1, cache_prompt: cache, id_slot: slot, samplers: ["top_k"] }),
      });
      if (!r.ok) throw new Error(`llama-server HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
      return ((await r.json()) as { timings: { prompt_per_second: number; predicted_per_second: number } }).timings;
    };
    for (const test of tests) {
      const line: WorkerLine = { point, test, engine: { binary: "llama-server", engine: "llama-server", threads: point.threads, server: server.args.join(" ") }, samples: [], error: null };
      try {
        const measure = async (): Promise<number> => {
          const rates = await Promise.all(
            Array.from({ length: point.parallel }, async (_, slot) => {
              const depth = random(point.depth);
              // Fill the context depth first (untimed): the measured request then reuses it from the cache.
              if (point.depth > 0) await complete(slot, depth, 0, true);
              if (test.kind === "pp") return (await complete(slot, [...depth, ...random(test.tokens)], 1, point.depth > 0)).prompt_per_second;
              return (await complete(slot, [...depth, ...random(1)], test.tokens, point.depth > 0)).predicted_per_second;
            }),
          );
          return rates.reduce((s, v) => s + v, 0);
        };
        for (let rep = 0; rep < warmup; rep++) await measure();
        line.stopped = await repeat(reps, measure, line.samples);
      } catch (error) {
        line.error = (error as Error).message;
      }
      lines.push(line);
    }
    server.stop();
  }
  return lines;
}
