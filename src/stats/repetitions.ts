/**
 * How many repetitions a throughput figure needs (pure): measure in rounds until the 95% interval
 * of the mean (Student's t) has a half-width within a stated share of the mean, or a maximum
 * count is reached. The rule and the t quantile it needs live here, apart from any I/O, so they
 * can be tested on their own.
 */

export interface RepetitionRule {
  /** Target half-width of the interval, in percent of the mean (5 = "mean ± 5%"). */
  ciWidthPercent: number;
  /** Stop after this many repetitions even if the interval is wider. */
  maxReps: number;
  /** Never stop before this many (the t interval of 2 samples is all but meaningless). */
  minReps: number;
  /** Repetitions in the first round. */
  firstRound: number;
  /** Two-sided confidence level of the interval. */
  confidence: number;
}

export const DEFAULT_RULE: RepetitionRule = { ciWidthPercent: 5, maxReps: 30, minReps: 3, firstRound: 5, confidence: 0.95 };

export function checkRule(rule: RepetitionRule): void {
  if (!(rule.ciWidthPercent > 0)) throw new RangeError(`the interval width must be a positive percentage, got ${rule.ciWidthPercent}`);
  if (!Number.isInteger(rule.maxReps) || rule.maxReps < 2) throw new RangeError(`the maximum repetitions must be an integer ≥ 2, got ${rule.maxReps}`);
  if (!Number.isInteger(rule.minReps) || rule.minReps < 2) throw new RangeError(`the minimum repetitions must be an integer ≥ 2, got ${rule.minReps}`);
  if (!Number.isInteger(rule.firstRound) || rule.firstRound < 1) throw new RangeError(`the first round must be a positive integer, got ${rule.firstRound}`);
  if (!(rule.confidence > 0 && rule.confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${rule.confidence}`);
}

/** The mean of repeated measurements with its Student-t interval. */
export interface MeanInterval {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); null with one sample. */
  sd: number | null;
  /** t(1 − α/2, n − 1) · sd / √n; null with one sample. */
  halfWidth: number | null;
  low: number | null;
  high: number | null;
  /** halfWidth as a percentage of the mean. */
  halfWidthPercent: number | null;
}

export function meanInterval(samples: readonly number[], confidence = 0.95): MeanInterval | null {
  const xs = samples.filter((v) => Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return null;
  const mean = xs.reduce((s, v) => s + v, 0) / n;
  if (n === 1) return { n, mean, sd: null, halfWidth: null, low: null, high: null, halfWidthPercent: null };
  const sd = Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const halfWidth = (tQuantile(1 - (1 - confidence) / 2, n - 1) * sd) / Math.sqrt(n);
  return { n, mean, sd, halfWidth, low: mean - halfWidth, high: mean + halfWidth, halfWidthPercent: mean !== 0 ? (100 * halfWidth) / Math.abs(mean) : null };
}

export type StopDecision =
  | { stop: true; reason: "converged" | "max-reps"; interval: MeanInterval | null }
  | { stop: false; nextReps: number; interval: MeanInterval | null };

/**
 * After the samples so far: stop (the interval is narrow enough, or the maximum is reached), or
 * how many more repetitions to run next. The next round aims at the count the current spread
 * implies, n* = (t · sd / (w · mean))², but never more than doubles the samples in one round
 * (a spread from few samples is itself uncertain) and never passes the maximum.
 */
export function decide(samples: readonly number[], rule: RepetitionRule): StopDecision {
  checkRule(rule);
  const interval = meanInterval(samples, rule.confidence);
  const n = interval?.n ?? 0;
  const narrow = n >= rule.minReps && interval !== null && interval.halfWidthPercent !== null && interval.halfWidthPercent <= rule.ciWidthPercent;
  if (narrow) return { stop: true, reason: "converged", interval };
  if (n >= rule.maxReps) return { stop: true, reason: "max-reps", interval };
  if (n === 0) return { stop: false, nextReps: Math.min(Math.max(rule.firstRound, rule.minReps), rule.maxReps), interval };
  const room = rule.maxReps - n;
  if (n < rule.minReps || interval === null || interval.halfWidthPercent === null) {
    return { stop: false, nextReps: Math.min(Math.max(rule.minReps - n, 1), room), interval };
  }
  const target = (rule.ciWidthPercent / 100) * Math.abs(interval.mean);
  const needed = Math.ceil(((tQuantile(1 - (1 - rule.confidence) / 2, n - 1) * (interval.sd as number)) / target) ** 2);
  return { stop: false, nextReps: Math.max(1, Math.min(needed - n, n, room)), interval };
}

/**
 * The p-quantile of Student's t with `df` degrees of freedom (p in (0, 1), df > 0), by bisection
 * on the exact distribution function (the regularized incomplete beta function), to ~1e-12.
 */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (tCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** P(T ≤ t) for Student's t with df degrees of freedom. */
export function tCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * regularizedBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** I_x(a, b), by the continued fraction of Numerical Recipes (betacf), using the symmetry for fast convergence. */
function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaFraction(x, a, b)) / a;
  return 1 - (front * betaFraction(1 - x, b, a)) / b;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~1e-15 relative). */
function logGamma(x: number): number {
  const g = 7;
  const coef = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let s = coef[0] as number;
  for (let i = 1; i < g + 2; i++) s += (coef[i] as number) / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}
