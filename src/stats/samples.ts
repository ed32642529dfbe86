/**
 * Repeated samples: each task run k times (sampling temperature > 0, or a flaky backend), and the
 * measures that separate "usually right" from "reliably right".
 */

function checkCounts(n: number, c: number, k: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (!Number.isInteger(c) || c < 0 || c > n) throw new RangeError(`c must be an integer in [0, ${n}], got ${c}`);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`k must be an integer in [1, n = ${n}], got ${k}`);
}

/**
 * Unbiased pass@k for one task with n samples of which c pass (Chen et al. 2021, "Evaluating
 * Large Language Models Trained on Code", eq. 1): the chance that at least one of k samples drawn
 * without replacement from the n passes, 1 − C(n−c, k)/C(n, k). The binomials overflow long
 * before n is large, so it is computed as their paper's numpy code does:
 *   C(n−c, k)/C(n, k) = ∏_{i=n−c+1}^{n} (1 − k/i),
 * a product of c factors in (0, 1].
 */
export function passAtK(n: number, c: number, k: number): number {
  checkCounts(n, c, k);
  if (n - c < k) return 1; // fewer than k failures: every draw of k contains a pass
  let allFail = 1;
  for (let i = n - c + 1; i <= n; i++) allFail *= 1 - k / i;
  return 1 - allFail;
}

/**
 * Unbiased pass^k for one task (the chance that k samples drawn without replacement from the n
 * ALL pass): C(c, k)/C(n, k) = ∏_{i=0}^{k−1} (c−i)/(n−i). With n = k it is 1 if all pass, else 0.
 */
export function passHatK(n: number, c: number, k: number): number {
  checkCounts(n, c, k);
  if (c < k) return 0;
  let all = 1;
  for (let i = 0; i < k; i++) all *= (c - i) / (n - i);
  return all;
}

export interface TaskConsistency {
  id: string;
  /** Samples of this task (n). */
  samples: number;
  /** Passing samples (c). */
  passes: number;
  /** c / n. */
  share: number;
}

export interface Consistency {
  /** Tasks with at least one sample. */
  tasks: number;
  /** Ids of tasks given with no samples: left out of every figure below. */
  withoutSamples: string[];
  /** The k used: the one given, else the fewest samples any task has. */
  k: number;
  /** Mean over tasks of each task's share passing (every task weighs the same). */
  pass1: number | null;
  /** Mean over tasks of the unbiased pass@k. */
  passAtK: number | null;
  /** Mean over tasks of the unbiased pass^k (all k pass; with n = k the share of tasks where all pass). */
  passHatK: number | null;
  /** Share of tasks failing in every sample: failures no amount of resampling fixes. */
  allFail: number | null;
  /** Share of tasks that pass in some samples and fail in others. */
  unstable: number | null;
  /** One entry per task with samples, in input order. */
  perTask: TaskConsistency[];
  /** Unstable tasks (0 < share < 1), share closest to 0.5 first, ties by id; at most `limit`. */
  leastStable: TaskConsistency[];
}

export interface ConsistencyOptions {
  /** Task ids for an array input, in the same order (default "0", "1", ...). */
  ids?: readonly string[];
  /** How many least-stable tasks to list (default 10). */
  limit?: number;
}

/**
 * Consistency over repeated samples. `perTask` is one array of sample outcomes per task, either as
 * a Map from task id or as an array with `options.ids`. `k` defaults to the smallest sample count
 * any task has, the largest k for which every task has an unbiased estimate; a larger k throws.
 */
export function consistency(
  perTask: ReadonlyMap<string, readonly boolean[]> | readonly (readonly boolean[])[],
  k?: number,
  options: ConsistencyOptions = {},
): Consistency {
  const entries = toEntries(perTask, options.ids);
  const withoutSamples = entries.filter(([, s]) => s.length === 0).map(([id]) => id);
  const rows: TaskConsistency[] = entries
    .filter(([, s]) => s.length > 0)
    .map(([id, s]) => {
      const passes = s.filter(Boolean).length;
      return { id, samples: s.length, passes, share: passes / s.length };
    });
  const minSamples = rows.reduce((m, r) => Math.min(m, r.samples), Infinity);
  const kUsed = k ?? (rows.length === 0 ? 1 : minSamples);
  if (!Number.isInteger(kUsed) || kUsed < 1) throw new RangeError(`k must be a positive integer, got ${kUsed}`);
  const short = rows.find((r) => r.samples < kUsed);
  if (short) {
    throw new RangeError(`k = ${kUsed} needs at least ${kUsed} samples per task; task ${short.id} has ${short.samples}`);
  }
  const limit = options.limit ?? 10;
  const avg = (f: (r: TaskConsistency) => number): number | null =>
    rows.length === 0 ? null : rows.reduce((s, r) => s + f(r), 0) / rows.length;
  const leastStable = rows
    .filter((r) => r.passes > 0 && r.passes < r.samples)
    .sort((a, b) => Math.abs(a.share - 0.5) - Math.abs(b.share - 0.5) || compareIds(a.id, b.id))
    .slice(0, limit);
  return {
    tasks: rows.length,
    withoutSamples,
    k: kUsed,
    pass1: avg((r) => r.share),
    passAtK: avg((r) => passAtK(r.samples, r.passes, kUsed)),
    passHatK: avg((r) => passHatK(r.samples, r.passes, kUsed)),
    allFail: avg((r) => (r.passes === 0 ? 1 : 0)),
    unstable: avg((r) => (r.passes > 0 && r.passes < r.samples ? 1 : 0)),
    perTask: rows,
    leastStable,
  };
}

function toEntries(
  perTask: ReadonlyMap<string, readonly boolean[]> | readonly (readonly boolean[])[],
  ids: readonly string[] | undefined,
): [string, readonly boolean[]][] {
  if (!Array.isArray(perTask)) return [...(perTask as ReadonlyMap<string, readonly boolean[]>).entries()];
  const list = perTask as readonly (readonly boolean[])[];
  if (ids !== undefined && ids.length !== list.length) {
    throw new RangeError(`got ${ids.length} ids for ${list.length} tasks`);
  }
  return list.map((s, i) => [ids?.[i] ?? String(i), s]);
}

/** Code-unit order, not locale order, so the listing is the same on every machine. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
