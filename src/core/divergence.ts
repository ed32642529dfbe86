import { percentileSorted } from "./percentile.js";

/**
 * How far a variant's next-token distributions are from a reference model's, position by
 * position: KL(reference ‖ variant), whether the most likely token is the same, and the
 * reference-scored log-likelihood of a text under each. Pure: distributions in, figures out.
 */

/** KL(P ‖ Q) in nats for two natural-log distributions over the same vocabulary. */
export function klDivergence(reference: Float32Array, variant: Float32Array): number {
  if (reference.length !== variant.length) throw new Error(`vocabularies differ: ${reference.length} and ${variant.length} tokens`);
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const lp = reference[i] as number;
    if (lp === Number.NEGATIVE_INFINITY) continue;
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

/** Collects one position at a time so the distributions need not be kept. */
export class DivergenceAccumulator {
  private readonly klds: number[] = [];
  private same = 0;

  add(reference: Float32Array, variant: Float32Array): number {
    const kld = klDivergence(reference, variant);
    this.klds.push(kld);
    if (argmax(reference) === argmax(variant)) this.same++;
    return kld;
  }

  stats(): DivergenceStats {
    const n = this.klds.length;
    if (n === 0) return { positions: 0, meanKld: null, meanKldStdErr: null, medianKld: null, p99Kld: null, maxKld: null, top1Agreement: null, top1StdErr: null };
    const mean = this.klds.reduce((a, b) => a + b, 0) / n;
    const variance = n > 1 ? this.klds.reduce((a, k) => a + (k - mean) ** 2, 0) / (n - 1) : 0;
    const sorted = [...this.klds].sort((a, b) => a - b);
    const top1 = this.same / n;
    return {
      positions: n,
      meanKld: mean,
      meanKldStdErr: Math.sqrt(variance / n),
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
