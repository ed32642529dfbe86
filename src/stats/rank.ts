import { twoSidedNormalP } from "./normal.js";

export interface KendallResult {
  /** Kendall's τ-b; null when x or y is constant (or n < 2), where it is undefined. */
  tau: number | null;
  /** Two-sided p-value for H0: τ = 0; null with tau. */
  p: number | null;
  n: number;
  /** "exact": permutation distribution (no ties, n ≤ 33); "normal": tie-corrected asymptotic. */
  method: "exact" | "normal" | null;
  concordant: number;
  discordant: number;
}

/** Largest n for the exact null distribution, as scipy.stats.kendalltau's method="auto". */
const EXACT_MAX_N = 33;

/**
 * Kendall's τ-b with ties (Kendall 1945): with n0 = n(n−1)/2 pairs, n1 / n2 the pairs tied in x /
 * in y, and S = concordant − discordant,  τ-b = S / √((n0 − n1)(n0 − n2)).
 *
 * p-value, following scipy.stats.kendalltau (method "auto") so results can be checked against it:
 * - no ties and n ≤ 33: exact, from the distribution of the number of discordant pairs
 *   (inversions of a random permutation), p = min(1, 2·P(D ≤ min(D, n0 − D)));
 * - otherwise the normal approximation to S with the tie-corrected variance (Kendall 1970):
 *   var S = [n(n−1)(2n+5) − Σt(t−1)(2t+5) − Σu(u−1)(2u+5)]/18
 *         + Σt(t−1)·Σu(u−1) / (2n(n−1)) + Σt(t−1)(t−2)·Σu(u−1)(u−2) / (9n(n−1)(n−2)),
 *   t, u the sizes of the tie groups in x and y.
 * Pairs are counted in O(n²): rankings here compare models or checkpoints, a few dozen at most.
 */
export function kendallTau(x: readonly number[], y: readonly number[]): KendallResult {
  if (x.length !== y.length) throw new RangeError(`x and y differ in length: ${x.length} vs ${y.length}`);
  for (const v of [...x, ...y]) {
    if (!Number.isFinite(v)) throw new RangeError(`values must be finite, got ${v}`);
  }
  const n = x.length;
  let concordant = 0;
  let discordant = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = Math.sign((x[i] as number) - (x[j] as number)) * Math.sign((y[i] as number) - (y[j] as number));
      if (s > 0) concordant++;
      else if (s < 0) discordant++;
    }
  }
  const tx = tieSums(x);
  const ty = tieSums(y);
  const n0 = (n * (n - 1)) / 2;
  const undefinedResult = { tau: null, p: null, n, method: null, concordant, discordant };
  if (n < 2 || tx.pairs === n0 || ty.pairs === n0) return undefinedResult;
  const s = concordant - discordant;
  const tau = s / Math.sqrt((n0 - tx.pairs) * (n0 - ty.pairs));
  if (tx.pairs === 0 && ty.pairs === 0 && n <= EXACT_MAX_N) {
    const p = Math.min(1, 2 * inversionsCdf(n, Math.min(discordant, n0 - discordant)));
    return { tau, p, n, method: "exact", concordant, discordant };
  }
  const m = n * (n - 1);
  const variance =
    (m * (2 * n + 5) - tx.v1 - ty.v1) / 18 + (2 * tx.pairs * ty.pairs) / m + (tx.v0 * ty.v0) / (9 * m * (n - 2));
  const p = variance > 0 ? twoSidedNormalP(s / Math.sqrt(variance)) : 1;
  return { tau, p, n, method: "normal", concordant, discordant };
}

/** For tie groups of sizes t: Σt(t−1)/2 (tied pairs), Σt(t−1)(t−2), Σt(t−1)(2t+5). */
function tieSums(values: readonly number[]): { pairs: number; v0: number; v1: number } {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let pairs = 0;
  let v0 = 0;
  let v1 = 0;
  for (const t of counts.values()) {
    pairs += (t * (t - 1)) / 2;
    v0 += t * (t - 1) * (t - 2);
    v1 += t * (t - 1) * (2 * t + 5);
  }
  return { pairs, v0, v1 };
}

/**
 * P(D ≤ c) for D the number of inversions of a uniformly random permutation of n (the Mahonian
 * distribution). Built by inserting elements one at a time: the i-th adds 0..i−1 inversions, each
 * with chance 1/i, so the probabilities stay in [0, 1] and never overflow.
 */
export function inversionsCdf(n: number, c: number): number {
  let dist = [1];
  for (let i = 2; i <= n; i++) {
    const next = new Array<number>(dist.length + i - 1).fill(0);
    // next[k] = (1/i)·Σ_{j=0}^{i−1} dist[k−j], as a running window sum.
    let window = 0;
    for (let k = 0; k < next.length; k++) {
      window += dist[k] ?? 0;
      if (k - i >= 0) window -= dist[k - i] ?? 0;
      next[k] = window / i;
    }
    dist = next;
  }
  let total = 0;
  for (let k = 0; k <= c && k < dist.length; k++) total += dist[k] as number;
  return Math.min(1, total);
}

export interface ReversedPair {
  /** The pair, in input order. */
  first: string;
  second: string;
  /** Their values under each ranking. */
  x: [number, number];
  y: [number, number];
}

/**
 * Pairs that x and y put in opposite strict order (e.g. models a dev-set ranking and the held-out
 * ranking disagree on). A pair tied under one ranking and ordered under the other is not listed:
 * it is a loss of resolution, not a reversal.
 */
export function reversedPairs(names: readonly string[], x: readonly number[], y: readonly number[]): ReversedPair[] {
  if (names.length !== x.length || x.length !== y.length) {
    throw new RangeError(`names, x and y must have one entry each per item: ${names.length}, ${x.length}, ${y.length}`);
  }
  const out: ReversedPair[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const xi = x[i] as number;
      const xj = x[j] as number;
      const yi = y[i] as number;
      const yj = y[j] as number;
      if (Math.sign(xi - xj) * Math.sign(yi - yj) < 0) {
        out.push({ first: names[i] as string, second: names[j] as string, x: [xi, xj], y: [yi, yj] });
      }
    }
  }
  return out;
}
