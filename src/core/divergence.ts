import { percentileSorted } from "./percentile.js";

/**
 * How far a variant's next-token distributions are from a reference model's, position by
 * position: KL(reference ‖ variant), whether the most likely token is the same, and the
 * reference-scored log-likelihood of a text under each. Pure: distributions in, figures out.
 */

/** KL(P ‖ Q) in nats for two natural-log distributions over the same vocabulary; `floor`: see below. */
export function klDivergence(reference: Float32Array, variant: Float32Array, floor = Number.NEGATIVE_INFINITY): number {
  if (reference.length !== variant.length) throw new Error(`vocabularies differ: ${reference.length} and ${variant.length} tokens`);
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const lp = reference[i] as number;
    // Tokens the reference gives log p ≤ floor are left out (llama-perplexity uses −16).
    if (lp <= floor) continue;
    sum += Math.exp(lp) * (lp - (variant[i] as number));
  }
  // Rounding can leave a tiny negative sum for identical distributions; KL is never below 0.
  return Math.max(0, sum);
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

export interface DivergenceStats {
  positions: number;
  /** Mean KL divergence (nats) with its standard error over positions. */
  meanKld: number | null;
  meanKldStdErr: number | null;
  medianKld: number | null;
  p99Kld: number | null;
  maxKld: number | null;
  /** Share of positions where both models' most likely token is the same, with its standard error. */
  top1Agreement: number | null;
  top1StdErr: number | null;
}

/**
 * Collects one position at a time so the distributions need not be kept. Positions of one text
 * (a task) are not independent, so with groups given the standard error of the mean KLD is the
 * cluster-robust one over groups (the ratio estimator's), not the naive one over positions.
 */
export class DivergenceAccumulator {
  private readonly klds: number[] = [];
  private readonly groups = new Map<string, { sum: number; n: number }>();
  private same = 0;

  constructor(private readonly floor = Number.NEGATIVE_INFINITY) {}

  add(reference: Float32Array, variant: Float32Array, group?: string): number {
    const kld = klDivergence(reference, variant, this.floor);
    this.klds.push(kld);
    if (argmax(reference) === argmax(variant)) this.same++;
    const g = this.groups.get(group ?? String(this.klds.length)) ?? { sum: 0, n: 0 };
    g.sum += kld;
    g.n++;
    this.groups.set(group ?? String(this.klds.length), g);
    return kld;
  }

  stats(): DivergenceStats {
    const n = this.klds.length;
    if (n === 0) return { positions: 0, meanKld: null, meanKldStdErr: null, medianKld: null, p99Kld: null, maxKld: null, top1Agreement: null, top1StdErr: null };
    const mean = this.klds.reduce((a, b) => a + b, 0) / n;
    const g = this.groups.size;
    // Var(mean) ≈ g/(g−1) · Σ_groups (S_j − mean·n_j)² / n²; with one position per group this is the usual s²/n.
    let ss = 0;
    for (const { sum, n: nj } of this.groups.values()) ss += (sum - mean * nj) ** 2;
    const sorted = [...this.klds].sort((a, b) => a - b);
    const top1 = this.same / n;
    return {
      positions: n,
      meanKld: mean,
      meanKldStdErr: g > 1 ? Math.sqrt((g / (g - 1)) * ss) / n : 0,
      medianKld: percentileSorted(sorted, 50),
      p99Kld: percentileSorted(sorted, 99),
      maxKld: sorted[n - 1] as number,
      top1Agreement: top1,
      top1StdErr: n > 1 ? Math.sqrt((top1 * (1 - top1)) / (n - 1)) : null,
    };
  }
}

/** Perplexity from summed natural-log probabilities of `tokens` tokens: exp(−mean). */
export function perplexity(sumLogProb: number, tokens: number): number | null {
  return tokens > 0 ? Math.exp(-sumLogProb / tokens) : null;
}

/**
 * The worst gap between heldout's running mean KLD after each window and the running means
 * llama-perplexity printed (5 decimals): in absolute terms, and relative to the printed value
 * once its rounding (±0.000005) is allowed for. A one-position misalignment of the windows shows
 * here even where the overall means happen to be close.
 */
export function runningMeanGap(windowMeans: readonly number[], printed: readonly number[], errors: readonly number[] = []): { maxAbsolute: number; maxRelative: number; window: number; maxZ: number } | null {
  const n = Math.min(windowMeans.length, printed.length);
  if (n === 0) return null;
  let sum = 0;
  let worst = { maxAbsolute: 0, maxRelative: 0, window: 0 };
  let maxZ = 0;
  for (let i = 0; i < n; i++) {
    sum += windowMeans[i] as number;
    const gap = Math.abs(sum / (i + 1) - (printed[i] as number));
    const relative = Math.max(0, gap - 0.000005) / Math.max(Math.abs(printed[i] as number), 1e-9);
    const error = errors[i];
    if (error !== undefined && error > 0) maxZ = Math.max(maxZ, Math.max(0, gap - 0.000005) / error);
    if (relative > worst.maxRelative || (relative === worst.maxRelative && gap > worst.maxAbsolute)) worst = { maxAbsolute: gap, maxRelative: relative, window: i + 1 };
  }
  return { ...worst, maxZ };
}
