import { percentileSorted } from "./percentile.js";
import { consistency } from "../stats/samples.js";
import { passRateInterval } from "../stats/intervals.js";
import { createRng, DEFAULT_SEED, randomInt } from "../stats/random.js";
import type { RunRecord } from "./types.js";

/**
 * The uncertainty figures of a cell: 95% intervals for its pass rate (Wilson with one sample per
 * task, a percentile bootstrap over tasks otherwise), its latency and TTFT percentiles and its
 * median generation speed (bootstrap over generations), and consistency over repeated samples.
 * Seeded, so the same records always give the same intervals.
 */

export interface RateInterval {
  low: number;
  high: number;
  method: "wilson" | "bootstrap";
}

export type Bounds = [number, number] | null;

/** Sample outcomes (1 pass, 0 fail) per task id, samples in order. */
export function outcomesByTask(records: readonly RunRecord[]): Map<string, number[]> {
  const byTask = new Map<string, number[]>();
  for (const r of [...records].sort((a, b) => a.sample - b.sample)) {
    const list = byTask.get(r.taskId);
    if (list) list.push(r.score.pass ? 1 : 0);
    else byTask.set(r.taskId, [r.score.pass ? 1 : 0]);
  }
  return byTask;
}

export function rateInterval(records: readonly RunRecord[]): RateInterval | null {
  if (records.length === 0) return null;
  const ci = passRateInterval([...outcomesByTask(records).values()], { seed: DEFAULT_SEED });
  return { low: ci.low, high: ci.high, method: ci.method };
}

/**
 * Percentile-bootstrap bounds of several percentiles of one set of measurements at once: each
 * resample is sorted once for all of them (1,000 resamples: the bounds move by well under their
 * own width between seeds). Bootstrap bounds of a high percentile of few values are optimistic.
 */
export function percentileBounds(values: readonly number[], ps: readonly number[], resamples = 1000, confidence = 0.95): Bounds[] {
  if (values.length < 2) return ps.map(() => null);
  const rng = createRng(DEFAULT_SEED);
  const draws: number[][] = ps.map(() => []);
  const sample = new Array<number>(values.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < values.length; i++) sample[i] = values[randomInt(rng, values.length)] as number;
    sample.sort((a, b) => a - b);
    ps.forEach((p, j) => (draws[j] as number[]).push(percentileSorted(sample, p) as number));
  }
  const tail = ((1 - confidence) / 2) * 100;
  return draws.map((d) => {
    d.sort((a, b) => a - b);
    return [percentileSorted(d, tail) as number, percentileSorted(d, 100 - tail) as number];
  });
}

export interface CellConsistency {
  k: number;
  pass1: number | null;
  passAtK: number | null;
  passHatK: number | null;
  /** Share of tasks failing in every sample. */
  allFail: number | null;
  /** Share of tasks that pass in some samples and fail in others. */
  unstable: number | null;
  leastStable: { taskId: string; share: number }[];
}

export function cellConsistency(records: readonly RunRecord[], samples: number): CellConsistency | null {
  if (samples < 2 || records.length === 0) return null;
  const byTask = new Map<string, boolean[]>();
  for (const [id, outcomes] of outcomesByTask(records)) byTask.set(id, outcomes.map((o) => o === 1));
  const c = consistency(byTask, undefined, { limit: 10 });
  return {
    k: c.k,
    pass1: c.pass1,
    passAtK: c.passAtK,
    passHatK: c.passHatK,
    allFail: c.allFail,
    unstable: c.unstable,
    leastStable: c.leastStable.map((t) => ({ taskId: t.id, share: t.share })),
  };
}
