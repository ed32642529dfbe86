import { mean, sampleStandardDeviation } from "simple-statistics";
import { decide, type RepetitionRule } from "../stats/repetitions.js";
import { percentile } from "../core/percentile.js";

/**
 * The throughput profiler's plan and statistics (pure). Like llama-bench: prompt processing (pp)
 * of N tokens and generation (tg) of N tokens, at context depths, over lists of settings, each
 * measured `reps` times after warm-up; reported as mean ± sd and median.
 */
export interface ProfilePoint {
  /** node-llama-cpp in a worker process, or llama.cpp's own llama-server. */
  engine: "embedded" | "llama-server";
  binary: "auto" | "prebuilt" | "source";
  threads: number;
  parallel: number;
  depth: number;
  batchSize: number | null;
  flashAttention: boolean;
  gpuLayers: number | "max" | "auto";
}

export interface ProfileTest {
  kind: "pp" | "tg";
  tokens: number;
}

export interface ProfileAxes {
  engine: ProfilePoint["engine"][];
  binary: ProfilePoint["binary"][];
  threads: number[];
  parallel: number[];
  depth: number[];
  batchSize: (number | null)[];
  flashAttention: boolean[];
  gpuLayers: ProfilePoint["gpuLayers"][];
}

export function profilePoints(axes: ProfileAxes): ProfilePoint[] {
  const out: ProfilePoint[] = [];
  for (const engine of axes.engine)
  // The binary is node-llama-cpp's: llama-server has one (its own build).
  for (const binary of engine === "llama-server" ? (["auto"] as const) : axes.binary)
    for (const gpuLayers of axes.gpuLayers)
      for (const flashAttention of axes.flashAttention)
        for (const batchSize of axes.batchSize)
          for (const threads of axes.threads)
            for (const parallel of axes.parallel) for (const depth of axes.depth) out.push({ engine, binary, threads, parallel, depth, batchSize, flashAttention, gpuLayers });
  return out;
}

export interface ProfileStats {
  n: number;
  mean: number | null;
  sd: number | null;
  median: number | null;
}

export function rateStats(samples: readonly number[]): ProfileStats {
  const xs = samples.filter((v) => Number.isFinite(v));
  return {
    n: xs.length,
    mean: xs.length ? mean(xs) : null,
    sd: xs.length > 1 ? sampleStandardDeviation(xs) : null,
    median: percentile(xs, 50),
  };
}

/** One measured test at one point: aggregate tok/s over all sequences, and per sequence. */
export interface ProfileResult {
  model: string;
  modelPath: string;
  synthetic: boolean;
  point: ProfilePoint;
  test: ProfileTest;
  /** The engine that actually ran (binary, CPU variant, GPU), as recorded by the worker. */
  engine: Record<string, unknown>;
  samples: number[];
  stats: ProfileStats;
  perSequence: ProfileStats;
  /**
   * tg: the memory bandwidth the median implies (weights read once per decode step, for all
   * sequences together) and its share of the measured copy bandwidth; pp: achieved FLOP/s
   * (2 × parameters × tokens/s).
   */
  roofline: { bytesPerToken: number; impliedBytesPerSecond: number | null; share: number | null; flopsPerSecond: number | null } | null;
  /** Why repetitions stopped: a fixed count, or (--reps auto) the interval converged or the maximum was reached. */
  stopped?: "fixed" | "converged" | "max-reps";
  error: string | null;
}

/**
 * Runs `measure` a fixed number of times, or (with a rule) in rounds until the 95% interval of the
 * mean is within the rule's width or its maximum count; pushes every figure onto `samples`.
 */
export async function repeat(reps: number | RepetitionRule, measure: () => Promise<number>, samples: number[]): Promise<"fixed" | "converged" | "max-reps"> {
  if (typeof reps === "number") {
    for (let i = 0; i < reps; i++) samples.push(await measure());
    return "fixed";
  }
  for (;;) {
    const next = decide(samples, reps);
    if (next.stop) return next.reason;
    for (let i = 0; i < next.nextReps; i++) samples.push(await measure());
  }
}
