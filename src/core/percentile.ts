/**
 * Percentiles by linear interpolation between closest ranks (Hyndman & Fan type 7; numpy's and
 * R's default, Excel's PERCENTILE.INC): for sorted x[0..n-1] the p-th percentile sits at rank
 * h = (n - 1) * p / 100, and is x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]).
 * With one value every percentile is that value; with none it is null.
 */
export function percentile(values: readonly number[], p: number): number | null {
  if (p < 0 || p > 100 || Number.isNaN(p)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return percentileSorted(xs, p);
}

export function percentileSorted(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const h = ((xs.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, xs.length - 1);
  const a = xs[lo] as number;
  const b = xs[hi] as number;
  return a + (h - lo) * (b - a);
}

export function mean(values: readonly number[]): number | null {
  const xs = values.filter((v) => Number.isFinite(v));
  if (xs.length === 0) return null;
  return xs.reduce((s, v) => s + v, 0) / xs.length;
}
