import { bootstrapPercentile, type BootstrapOptions } from "./intervals.js";
import { criticalZ, normalQuantile } from "./normal.js";
import { compareIds } from "./samples.js";

/**
 * P(X ≤ m) for X ~ Binomial(n, 1/2), accurate for n up to and beyond 100,000 where 2^−n and the
 * binomial coefficients are far outside double range. For m ≤ n/2 the pmf rises towards m, so:
 *   log pmf(m) = Σ_{j=1}^{m} ln((n−m+j)/j) − n·ln 2  (an exact sum of logs, no gamma approximation)
 *   P(X ≤ m) = pmf(m) · Σ_{i≤m} pmf(i)/pmf(m), the ratios built by pmf(i−1)/pmf(i) = i/(n−i+1),
 * summed from the largest term down and stopped once a term no longer changes the sum.
 * For m > n/2 the symmetry P(X ≤ m) = 1 − P(X ≤ n−m−1) is used.
 */
export function binomialHalfCdf(m: number, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(m)) throw new RangeError(`m must be an integer, got ${m}`);
  if (m < 0) return 0;
  if (m >= n) return 1;
  if (2 * m > n) return 1 - binomialHalfCdf(n - m - 1, n);
  let logPmf = -n * Math.LN2;
  for (let j = 1; j <= m; j++) logPmf += Math.log((n - m + j) / j);
  let sum = 1;
  let term = 1;
  for (let i = m; i >= 1; i--) {
    term *= i / (n - i + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.min(1, Math.exp(logPmf + Math.log(sum)));
}

/**
 * Two-sided exact McNemar test on the discordant counts b (A passes, B fails) and c (A fails,
 * B passes): under H0 each discordant task is a fair coin, so p = min(1, 2·P(X ≤ min(b, c))) with
 * X ~ Bin(b + c, 1/2). No discordant task is no evidence at all: p = 1. Being exact and
 * conditional on b + c, it is conservative (its false-positive rate is at most α).
 */
export function mcnemarExact(b: number, c: number): number {
  for (const [name, v] of [["b", b], ["c", c]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  }
  const n = b + c;
  if (n === 0) return 1;
  return Math.min(1, 2 * binomialHalfCdf(Math.min(b, c), n));
}

/**
 * Holm–Bonferroni step-down adjusted p-values (Holm 1979), in input order: sort ascending, the
 * i-th smallest (from 1) becomes max over j ≤ i of (m − j + 1)·p_(j), capped at 1. Controls the
 * family-wise error rate for any dependence between the tests, and is never worse than Bonferroni.
 */
export function holm(pValues: readonly number[]): number[] {
  for (const p of pValues) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`p-values must be in [0, 1], got ${p}`);
  }
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const adjusted = new Array<number>(m).fill(1);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

/**
 * Smallest true gap in pass rate (as a fraction) that a paired comparison of n tasks detects with
 * the given power at two-sided level alpha:
 *   MDD = (z_{1−α/2} + z_{power}) · √(ψ / n).
 * This is the normal approximation for paired differences, MDD = (z_{1−α/2} + z_β)·σ_d/√n, where
 * σ_d² is the variance of a task's difference d_i = B_i − A_i. For 0/1 outcomes σ_d² = ψ − δ²
 * with ψ the discordance rate (Connor 1987, the usual McNemar sample-size formula); under H0
 * δ = 0, so σ_d² = ψ, which also avoids the formula's singular region δ² ≥ ψ and errs (slightly)
 * towards a larger MDD. With k samples per task, pass ψ = mean(d_i²) of per-task mean
 * differences: it reduces to the discordance rate for single samples.
 */
export function minimalDetectableDifference(n: number, discordantRate: number, alpha = 0.05, power = 0.8): number {
  checkDesign(n, alpha, power);
  if (!(discordantRate >= 0 && discordantRate <= 1)) {
    throw new RangeError(`discordant rate must be in [0, 1], got ${discordantRate}`);
  }
  return (criticalZ(1 - alpha) + normalQuantile(power)) * Math.sqrt(discordantRate / n);
}

/**
 * The unpaired fallback, for when no task differs between the two (ψ = 0 would claim any gap is
 * detectable): two independent proportions around a common rate p, each over n tasks,
 *   MDD = (z_{1−α/2} + z_{power}) · √(2·p(1−p)/n).
 */
export function minimalDetectableDifferenceUnpaired(n: number, passRate: number, alpha = 0.05, power = 0.8): number {
  checkDesign(n, alpha, power);
  if (!(passRate >= 0 && passRate <= 1)) throw new RangeError(`pass rate must be in [0, 1], got ${passRate}`);
  return (criticalZ(1 - alpha) + normalQuantile(power)) * Math.sqrt((2 * passRate * (1 - passRate)) / n);
}

function checkDesign(n: number, alpha: number, power: number): void {
  if (!(n > 0)) throw new RangeError(`n must be positive, got ${n}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  if (!(power > 0 && power < 1)) throw new RangeError(`power must be in (0, 1), got ${power}`);
}

export interface PairedOptions extends BootstrapOptions {
  /** Significance level (default 0.05). */
  alpha?: number;
  /** Power for the minimal detectable difference (default 0.8). */
  power?: number;
  /** Labels for the verdict (default "A" and "B"). */
  names?: { a: string; b: string };
}

export interface PairedComparison {
  names: { a: string; b: string };
  /** Tasks present, with at least one sample, on both sides: everything below is on these. */
  tasks: number;
  /** Ids only one side has (or has without samples), sorted: left out of the comparison. */
  onlyInA: string[];
  onlyInB: string[];
  passA: number | null;
  passB: number | null;
  /** passB − passA as a fraction, with its paired percentile-bootstrap interval. */
  difference: number | null;
  low: number | null;
  high: number | null;
  confidence: number;
  /** Tasks where A's mean outcome is higher (McNemar's b), B's is higher (c), or equal. */
  aWins: number;
  bWins: number;
  ties: number;
  /** Exact McNemar / sign-test p on aWins vs bWins. */
  pValue: number;
  /** Set by adjustComparisons; it then replaces pValue in the decision and the verdict. */
  pAdjusted: number | null;
  alpha: number;
  power: number;
  /** Minimal detectable difference (fraction) and which approximation gave it. */
  mdd: number | null;
  mddMethod: "paired" | "unpaired" | null;
  significant: boolean;
  verdict: string;
}

/**
 * Compares two cells on their common tasks (outcomes 0/1 or partial credit, k samples per task).
 *
 * - Each task is reduced to its mean outcome; the pass rate is the mean over tasks.
 * - The interval of B − A is a paired bootstrap: tasks are resampled, the SAME tasks for both, so
 *   the per-task correlation between cells (easy tasks are easy for both) tightens it.
 * - Test: a task is discordant when its two means differ; A-higher tasks are McNemar's b and
 *   B-higher tasks its c. With one sample per task this is exactly McNemar's exact test on the 0/1
 *   outcomes; with k samples it is the exact sign test on per-task means, which unlike a majority
 *   vote keeps a 3/5 vs 5/5 task as evidence, and stays valid under H0 (identical per-task pass
 *   probabilities make "A higher" and "B higher" equally likely).
 * - Significant only when p (adjusted, if set) < alpha AND the interval excludes 0, so the verdict
 *   never contradicts either printed number; the exact test also guards the bootstrap, which
 *   under-covers on small suites.
 */
export function pairedComparison(
  a: ReadonlyMap<string, readonly number[]>,
  b: ReadonlyMap<string, readonly number[]>,
  options: PairedOptions = {},
): PairedComparison {
  const { alpha = 0.05, power = 0.8, confidence = 0.95, names = { a: "A", b: "B" } } = options;
  const has = (m: ReadonlyMap<string, readonly number[]>, id: string): boolean => (m.get(id)?.length ?? 0) > 0;
  const common = [...a.keys()].filter((id) => has(a, id) && has(b, id)).sort(compareIds);
  const onlyInA = [...a.keys()].filter((id) => !has(b, id) || !has(a, id)).sort(compareIds);
  const onlyInB = [...b.keys()].filter((id) => !has(a, id) || !has(b, id)).sort(compareIds);
  const meanA: number[] = [];
  const meanB: number[] = [];
  for (const id of common) {
    meanA.push(taskMean(a.get(id) ?? [], id));
    meanB.push(taskMean(b.get(id) ?? [], id));
  }
  const diffs = meanB.map((v, i) => v - (meanA[i] as number));
  const n = common.length;
  const aWins = diffs.filter((d) => d < 0).length;
  const bWins = diffs.filter((d) => d > 0).length;
  const avg = (xs: readonly number[]): number | null => (xs.length === 0 ? null : xs.reduce((s, v) => s + v, 0) / xs.length);
  const ci = bootstrapPercentile(diffs, avg, { ...options, confidence });
  let mdd: number | null = null;
  let mddMethod: PairedComparison["mddMethod"] = null;
  if (n > 0) {
    const psi = diffs.reduce((s, d) => s + d * d, 0) / n;
    if (psi > 0) {
      mdd = minimalDetectableDifference(n, psi, alpha, power);
      mddMethod = "paired";
    } else {
      // Add-one smoothing of the pooled rate, so that a suite where everything passes (p = 1)
      // still reports a finite, non-zero gap instead of claiming it would see any difference.
      const pooled = (meanA.reduce((s, v) => s + v, 0) + meanB.reduce((s, v) => s + v, 0) + 1) / (2 * n + 2);
      mdd = minimalDetectableDifferenceUnpaired(n, pooled, alpha, power);
      mddMethod = "unpaired";
    }
  }
  const result: PairedComparison = {
    names,
    tasks: n,
    onlyInA,
    onlyInB,
    passA: avg(meanA),
    passB: avg(meanB),
    difference: ci.estimate,
    low: ci.low,
    high: ci.high,
    confidence,
    aWins,
    bWins,
    ties: n - aWins - bWins,
    pValue: mcnemarExact(aWins, bWins),
    pAdjusted: null,
    alpha,
    power,
    mdd,
    mddMethod,
    significant: false,
    verdict: "",
  };
  return decide(result);
}

function taskMean(samples: readonly number[], id: string): number {
  let total = 0;
  for (const v of samples) {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`task ${id}: sample outcomes must be in [0, 1], got ${v}`);
    total += v;
  }
  return total / samples.length;
}

/**
 * Holm-adjusts the p-values of a family of comparisons (e.g. every model against a baseline) and
 * recomputes each one's significance and verdict with its adjusted p.
 */
export function adjustComparisons(results: readonly PairedComparison[]): PairedComparison[] {
  const adjusted = holm(results.map((r) => r.pValue));
  return results.map((r, i) => decide({ ...r, pAdjusted: adjusted[i] ?? r.pValue }));
}

function decide(r: PairedComparison): PairedComparison {
  if (r.tasks === 0 || r.difference === null || r.low === null || r.high === null) {
    return { ...r, significant: false, verdict: "no common tasks to compare" };
  }
  const p = r.pAdjusted ?? r.pValue;
  const significant = p < r.alpha && (r.low > 0 || r.high < 0);
  const level = `${formatNumber(r.confidence * 100, 0)}% CI`;
  const pText = `${r.pAdjusted === null ? "p" : "Holm-adjusted p"} ${formatP(p)}`;
  let verdict: string;
  if (significant) {
    // Report from the winner's side so the gap and its interval read as positive numbers.
    const bBetter = r.difference > 0;
    const [low, high] = bBetter ? [r.low, r.high] : [-r.high, -r.low];
    verdict =
      `${bBetter ? r.names.b : r.names.a} is better by ${points(Math.abs(r.difference))} points, ` +
      `${level} [${points(low)}, ${points(high)}], ${pText}`;
  } else {
    const signed = points(r.difference);
    const shown = signed.startsWith("−") || signed === "0.0" ? signed : `+${signed}`;
    verdict =
      `no detectable difference (${r.names.b} − ${r.names.a} = ${shown} points, ` +
      `${level} [${points(r.low)}, ${points(r.high)}], ${pText})`;
    if (r.mdd !== null) {
      verdict += `: this suite can only detect gaps above ~${formatMdd(r.mdd * 100)} points`;
    }
  }
  return { ...r, significant, verdict };
}

/** A fraction as percentage points with one decimal and a true minus sign (no "−0.0"). */
function points(fraction: number): string {
  return formatNumber(fraction * 100, 1);
}

function formatNumber(value: number, decimals: number): string {
  const text = Math.abs(value).toFixed(decimals);
  const zero = Number(text) === 0;
  return value < 0 && !zero ? `−${text}` : text;
}

function formatMdd(pts: number): string {
  return pts >= 10 ? pts.toFixed(0) : pts.toFixed(1);
}

export function formatP(p: number): string {
  if (p < 0.001) return "< 0.001";
  if (p >= 1) return "= 1";
  return `= ${p >= 0.1 ? p.toFixed(2) : p.toFixed(3)}`;
}
