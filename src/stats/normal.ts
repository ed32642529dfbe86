import { errorFunction } from "simple-statistics";

/**
 * The standard normal distribution, to the accuracy the intervals and tests need.
 *
 * simple-statistics' own `cumulativeStdNormalProbability` is a table lookup rounded to z ± 0.005
 * (four decimals of probability) and its `probit` uses a closed-form inverse erf accurate to about
 * 2·10⁻³ (probit(0.975) = 1.9572 instead of 1.95996), which moves Wilson bounds in the third
 * decimal. So: the CDF is built on its `errorFunction` (Numerical Recipes' erfc fit, relative error
 * < 1.2·10⁻⁷), and the quantile is Acklam's rational approximation (relative error < 1.15·10⁻⁹).
 */

/** P(Z ≤ z). */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  // Evaluate the tail through erfc of |z| so the small tail keeps its absolute precision.
  const tail = 0.5 * (1 - errorFunction(Math.abs(z) / Math.SQRT2));
  return z >= 0 ? 1 - tail : tail;
}

/** Two-sided normal p-value for a z statistic: P(|Z| ≥ |z|) = erfc(|z|/√2). */
export function twoSidedNormalP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return Math.min(1, Math.max(0, 1 - errorFunction(Math.abs(z) / Math.SQRT2)));
}

const A = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239] as const;
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572] as const;
const C = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] as const;
const P_LOW = 0.02425;

function tailQuantile(q: number): number {
  return (
    (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
    ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1)
  );
}

/** The z with P(Z ≤ z) = p (Acklam 2003); ±Infinity at p = 0 or 1. */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`probability must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p < P_LOW) return tailQuantile(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - P_LOW) return -tailQuantile(Math.sqrt(-2 * Math.log1p(-p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
    (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1)
  );
}

/** The two-sided critical value for a confidence level: 0.95 → 1.959964. */
export function criticalZ(confidence: number): number {
  checkConfidence(confidence);
  return normalQuantile(1 - (1 - confidence) / 2);
}

export function checkConfidence(confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence must be strictly between 0 and 1, got ${confidence}`);
  }
}
