import { mean } from "simple-statistics";
import { percentile, percentileSorted } from "../core/percentile.js";
import { checkConfidence, criticalZ } from "./normal.js";
import { createRng, DEFAULT_SEED, randomInt } from "./random.js";

/** A point estimate with its two-sided interval; all null when there is nothing to estimate. */
export interface Interval {
  estimate: number | null;
  low: number | null;
  high: number | null;
}

/**
 * A proportion's interval. With n = 0 the estimate is null but the bounds are [0, 1]: with no data
 * every proportion is consistent, and a table can still print the (uninformative) bounds.
 */
export interface ProportionInterval {
  estimate: number | null;
  low: number;
  high: number;
}

export interface BootstrapOptions {
  /** Number of resamples; 2,000 keeps the Monte Carlo error of a 95% bound well below its width. */
  resamples?: number;
  /** PRNG seed (default DEFAULT_SEED): the same inputs and seed always give the same interval. */
  seed?: number;
  /** Two-sided confidence level in (0, 1); default 0.95. */
  confidence?: number;
}

export interface BootstrapInterval extends Interval {
  /** Resamples whose statistic was defined (finite); the percentiles are taken over these. */
  resamples: number;
}

/**
 * Wilson score interval (Wilson 1927) for `successes` out of `n` Bernoulli trials:
 *   centre = (p̂ + z²/2n) / (1 + z²/n),  half-width = z/(1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²).
 * Unlike the Wald interval it never leaves [0, 1] and keeps near-nominal coverage at small n·p,
 * which is why it is the default for single-sample pass rates. The bounds at 0 and n are set to
 * exactly 0 and 1 (the formula reaches them only up to rounding).
 */
export function wilson(successes: number, n: number, confidence = 0.95): ProportionInterval {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`successes must be an integer in [0, ${n}], got ${successes}`);
  }
  checkConfidence(confidence);
  if (n === 0) return { estimate: null, low: 0, high: 1 };
  const z = criticalZ(confidence);
  const z2 = z * z;
  const p = successes / n;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return {
    estimate: p,
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === n ? 1 : Math.min(1, centre + half),
  };
}

/**
 * Percentile bootstrap (Efron 1979): draw `resamples` samples of the UNITS with replacement (a
 * unit is a task: its samples' outcomes, a latency, a weighted score...), compute the statistic on
 * each, and report the (1−c)/2 and (1+c)/2 type-7 percentiles of those replicates. Resampling
 * whole tasks keeps a task's repeated samples together, so their correlation widens the interval
 * as it should, instead of counting k samples of one task as k independent observations.
 *
 * `statistic` receives a scratch array that is reused between resamples: it must not keep it.
 * Replicates where it returns null or a non-finite number are dropped (e.g. a percentile of an
 * empty resample). With no units, or no defined replicate, the bounds are null.
 */
export function bootstrapPercentile<U>(
  units: readonly U[],
  statistic: (sample: readonly U[]) => number | null,
  options: BootstrapOptions = {},
): BootstrapInterval {
  const { resamples = 2000, seed = DEFAULT_SEED, confidence = 0.95 } = options;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  }
  checkConfidence(confidence);
  const n = units.length;
  const estimate = n === 0 ? null : finiteOrNull(statistic(units));
  if (n === 0) return { estimate, low: null, high: null, resamples: 0 };
  const rng = createRng(seed);
  const scratch: U[] = units.slice();
  const replicates: number[] = [];
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) scratch[i] = units[randomInt(rng, n)] as U;
    const value = finiteOrNull(statistic(scratch));
    if (value !== null) replicates.push(value);
  }
  replicates.sort((a, b) => a - b);
  const tail = ((1 - confidence) / 2) * 100;
  return {
    estimate,
    low: percentileSorted(replicates, tail),
    high: percentileSorted(replicates, 100 - tail),
    resamples: replicates.length,
  };
}

function finiteOrNull(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

/**
 * Pass rate as the mean over tasks of each task's mean outcome, so every task weighs the same
 * however many samples it has. Outcomes may be 0/1 or partial credit in [0, 1].
 */
export function meanOfTaskMeans(perTask: readonly (readonly number[])[]): number | null {
  let total = 0;
  let tasks = 0;
  for (const samples of perTask) {
    if (samples.length === 0) continue;
    total += mean(samples as number[]);
    tasks++;
  }
  return tasks === 0 ? null : total / tasks;
}

export interface PassRateInterval extends ProportionInterval {
  method: "wilson" | "bootstrap";
  /** Tasks that had at least one sample (tasks without samples carry no information). */
  tasks: number;
}

/**
 * Pass-rate interval. When every task has exactly one 0/1 sample the tasks are independent
 * Bernoulli trials and the Wilson interval applies. Otherwise (k samples per task, or partial
 * credit) the task means are not binomial, and a percentile bootstrap over tasks is used.
 *
 * Known limit of the bootstrap: if every outcome is identical (all pass), every replicate is too,
 * and the interval collapses to [1, 1]; Wilson on the task count would be the honest bound there.
 * That case is therefore routed to Wilson on (passing tasks, tasks) as well.
 */
export function passRateInterval(
  perTask: readonly (readonly number[])[],
  options: BootstrapOptions = {},
): PassRateInterval {
  const confidence = options.confidence ?? 0.95;
  for (const samples of perTask) {
    for (const v of samples) {
      if (!(v >= 0 && v <= 1)) throw new RangeError(`sample outcomes must be in [0, 1], got ${v}`);
    }
  }
  const tasks = perTask.filter((s) => s.length > 0);
  const binary = tasks.every((s) => s.every((v) => v === 0 || v === 1));
  const single = tasks.every((s) => s.length === 1);
  const uniform = binary && (tasks.every((s) => s.every((v) => v === 1)) || tasks.every((s) => s.every((v) => v === 0)));
  if ((binary && single) || uniform) {
    const passes = tasks.filter((s) => s[0] === 1).length;
    return { ...wilson(passes, tasks.length, confidence), method: "wilson", tasks: tasks.length };
  }
  const boot = bootstrapPercentile(tasks, meanOfTaskMeans, options);
  // Means of values in [0, 1] stay in [0, 1], so the bounds are never null here.
  return {
    estimate: boot.estimate,
    low: boot.low ?? 0,
    high: boot.high ?? 1,
    method: "bootstrap",
    tasks: tasks.length,
  };
}

/**
 * Bootstrap interval of the p-th percentile (0–100) of a set of measurements (latency p95,
 * tokens/s median...), with the same type-7 definition the reports print (src/core/percentile).
 * Non-finite values are ignored, as percentile() does. Bootstrap intervals for extreme percentiles
 * of small sets are narrow and optimistic (a resample cannot exceed the observed maximum): read
 * p99 intervals only when there are several hundred measurements.
 */
export function percentileInterval(values: readonly number[], p: number, options: BootstrapOptions = {}): BootstrapInterval {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const finite = values.filter((v) => Number.isFinite(v));
  return bootstrapPercentile(finite, (sample) => percentile(sample, p), options);
}
