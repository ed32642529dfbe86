/**
 * Profile worker: one child process per model and binary (two node-llama-cpp bindings do not mix
 * in one process, and a native crash must cost only these measurements). Reads a job as JSON
 * from argv, prints one JSON line per measurement.
 */
import type { Token } from "node-llama-cpp";
import { getEngine } from "../backends/llama-engine.js";
import { resolveThreads } from "../backends/llama.js";
import { createRng, randomInt } from "../stats/random.js";
import { repeat } from "./grid.js";
import type { RepetitionRule } from "../stats/repetitions.js";
import type { ProfilePoint, ProfileTest } from "./grid.js";

export interface WorkerJob {
  modelPath: string;
  binary: ProfilePoint["binary"];
  gpu: "auto" | "cpu";
  points: ProfilePoint[];
  tests: ProfileTest[];
  /** A fixed count, or a rule: repeat until the 95% interval of the mean is narrow enough (stats/repetitions.ts). */
  reps: number | RepetitionRule;
  warmup: number;
}

export interface WorkerLine {
  point: ProfilePoint;
  test: ProfileTest;
  engine: Record<string, unknown>;
  /** Aggregate tokens/s of each repetition. */
  samples: number[];
  /** Why repetitions stopped: a fixed count, the interval reached its width, or the maximum count. */
  stopped?: "fixed" | "converged" | "max-reps";
  error: string | null;
}

const job = JSON.parse(process.argv[2] ?? "{}") as WorkerJob;
const engine = await getEngine({ binary: job.binary, gpu: job.gpu }, job.modelPath);
const { llama, info } = engine;
if (job.binary === "source" && info.binary !== "localBuild") throw new Error("no source build of node-llama-cpp: run heldout engine build");
const byLayers = new Map<string, Awaited<ReturnType<typeof llama.loadModel>>>();
const rng = createRng(1234);

for (const point of job.points) {
  const key = String(point.gpuLayers);
  let model = byLayers.get(key);
  if (!model) {
    model = await llama.loadModel({ modelPath: job.modelPath, gpuLayers: info.gpu === false ? 0 : point.gpuLayers });
    byLayers.set(key, model);
  }
  const vocab = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 256;
  // Random tokens, as llama-bench uses: generation cost does not depend on which tokens.
  const randomTokens = (n: number) => Array.from({ length: n }, () => (3 + randomInt(rng, Math.max(1, vocab - 3))) as Token);
  const threads = resolveThreads(point.threads, info.binary, info.cpuMathCores, info.cmakeOptions, info.gpu).value;
  for (const test of job.tests) {
    // heldout synth marks its files: their figures are speed only, never quality.
    const synthetic = (model.fileInfo.metadata as unknown as { heldout?: { synthetic?: boolean } }).heldout?.synthetic === true;
    const line: WorkerLine = { point, test, engine: { ...info, threads, synthetic }, samples: [], error: null };
    try {
      const perSequence = point.depth + (test.kind === "pp" ? test.tokens : test.tokens + 1) + 16;
      const context = await model.createContext({
        sequences: point.parallel,
        contextSize: perSequence,
        threads,
        flashAttention: point.flashAttention,
        ...(point.batchSize ? { batchSize: point.batchSize } : {}),
      });
      const sequences = Array.from({ length: point.parallel }, () => context.getSequence());
      const measure = async (): Promise<number> => {
        await Promise.all(sequences.map((s) => s.clearHistory()));
        // Context depth: tokens already in the KV cache before the timed part (not timed).
        if (point.depth > 0) await Promise.all(sequences.map((s) => s.evaluateWithoutGeneratingNewTokens(randomTokens(point.depth))));
        let tokens = 0;
        let ms = 0;
        if (test.kind === "pp") {
          const prompts = sequences.map(() => randomTokens(test.tokens));
          const t0 = performance.now();
          await Promise.all(sequences.map((s, i) => s.evaluateWithoutGeneratingNewTokens(prompts[i] as Token[])));
          ms = performance.now() - t0;
          tokens = test.tokens * point.parallel;
        } else {
          // tg: a fixed count past end-of-generation (yieldEogToken), every sequence advanced in lockstep.
          const iterators = sequences.map((s) => s.evaluate(randomTokens(1), { temperature: 0, topK: 1, topP: 1, minP: 0, seed: 1, yieldEogToken: true })[Symbol.asyncIterator]());
          await Promise.all(iterators.map((it) => it.next())); // the first token carries the 1-token prompt: not timed
          const t0 = performance.now();
          for (let step = 1; step < test.tokens; step++) await Promise.all(iterators.map((it) => it.next()));
          ms = performance.now() - t0;
          await Promise.all(iterators.map((it) => it.return?.()));
          tokens = (test.tokens - 1) * point.parallel;
        }
        return (tokens * 1000) / ms;
      };
      for (let rep = 0; rep < job.warmup; rep++) await measure();
      line.stopped = await repeat(job.reps, measure, line.samples);
      await context.dispose();
    } catch (error) {
      line.error = (error as Error).message;
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}
process.exit(0);
