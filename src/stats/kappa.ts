import { bootstrapPercentile, type BootstrapOptions } from "./intervals.js";

/**
 * Cohen's kappa (Cohen 1960): how much two raters agree beyond what their own rating habits
 * would give by chance, on the items both rated.
 *
 *   unweighted:  κ = (pₒ − pₑ) / (1 − pₑ), pₒ the share of items given the same category,
 *                pₑ = Σ_c pA(c)·pB(c) the agreement expected from the two raters' marginals;
 *   quadratic:   κ_w = 1 − Σ w·O / Σ w·E with w = (a − b)² for numeric (ordinal) ratings, O the
 *                observed and E the chance joint distribution (Cohen 1968; Fleiss & Cohen 1973).
 *                A 4 against a 5 then counts as a near miss, a 1 against a 5 as a wide one. The
 *                weights are on the values themselves, so the result does not depend on which
 *                categories happened to be used (the usual (i−j)²/(k−1)² normalisation cancels).
 *
 * κ is 1 for perfect agreement, 0 for chance-level agreement, negative below chance. It is
 * undefined (null) when chance agreement is already perfect (both raters used one and the same
 * category throughout: pₑ = 1, or Σ w·E = 0) and with no common items.
 */
export type KappaWeights = "none" | "quadratic";

export interface KappaResult {
  weights: KappaWeights;
  /** Items rated by both. */
  n: number;
  kappa: number | null;
  /** Share of items with identical ratings (pₒ), null with no items. */
  observedAgreement: number | null;
  /** Unweighted: pₑ, the agreement expected by chance; quadratic: the squared difference expected by chance, E[(a − b)²]. */
  expected: number | null;
}

export type Category = string | number;

/** κ for rating pairs (rater A's, rater B's) of the same items. Quadratic weights need numbers. */
export function cohensKappa(pairs: readonly (readonly [Category, Category])[], weights: KappaWeights = "none"): KappaResult {
  const n = pairs.length;
  if (n === 0) return { weights, n, kappa: null, observedAgreement: null, expected: null };
  const observedAgreement = pairs.filter(([a, b]) => a === b).length / n;
  if (weights === "none") {
    const countA = new Map<Category, number>();
    const countB = new Map<Category, number>();
    for (const [a, b] of pairs) {
      countA.set(a, (countA.get(a) ?? 0) + 1);
      countB.set(b, (countB.get(b) ?? 0) + 1);
    }
    let pe = 0;
    for (const [c, na] of countA) pe += (na / n) * ((countB.get(c) ?? 0) / n);
    const kappa = pe >= 1 - 1e-12 ? null : (observedAgreement - pe) / (1 - pe);
    return { weights, n, kappa, observedAgreement, expected: pe };
  }
  for (const [a, b] of pairs) {
    if (typeof a !== "number" || typeof b !== "number" || !Number.isFinite(a) || !Number.isFinite(b)) {
      throw new RangeError(`quadratic-weighted kappa needs numeric ratings, got ${JSON.stringify([a, b])}`);
    }
  }
  const nums = pairs as readonly (readonly [number, number])[];
  // Observed mean squared disagreement, and the one expected if A's and B's ratings were independent.
  const observed = nums.reduce((s, [a, b]) => s + (a - b) ** 2, 0) / n;
  const meanA = nums.reduce((s, [a]) => s + a, 0) / n;
  const meanB = nums.reduce((s, [, b]) => s + b, 0) / n;
  const sqA = nums.reduce((s, [a]) => s + a * a, 0) / n;
  const sqB = nums.reduce((s, [, b]) => s + b * b, 0) / n;
  // E[(a − b)²] over the product of the marginals = E[a²] + E[b²] − 2 E[a] E[b].
  const expected = sqA + sqB - 2 * meanA * meanB;
  const kappa = expected <= 1e-12 ? null : 1 - observed / expected;
  return { weights, n, kappa, observedAgreement, expected };
}

export interface KappaWithInterval extends KappaResult {
  /** Percentile-bootstrap 95% bounds over items (null when too few resamples define κ). */
  low: number | null;
  high: number | null;
}

/** κ with a percentile-bootstrap interval over the common items (seeded, as every interval here). */
export function cohensKappaInterval(pairs: readonly (readonly [Category, Category])[], weights: KappaWeights = "none", options: BootstrapOptions = {}): KappaWithInterval {
  const point = cohensKappa(pairs, weights);
  if (point.n < 2 || point.kappa === null) return { ...point, low: null, high: null };
  const boot = bootstrapPercentile(pairs, (sample) => cohensKappa(sample, weights).kappa, options);
  return { ...point, low: boot.low, high: boot.high };
}

/**
 * The pairs of two raters' ratings on the items both rated, in the order of A's items. Items are
 * matched by key (an item id); an item rated several times keeps the value given last.
 */
export function commonItems<T extends Category>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>): [T, T][] {
  const pairs: [T, T][] = [];
  for (const [item, value] of a) {
    const other = b.get(item);
    if (other !== undefined) pairs.push([value, other]);
  }
  return pairs;
}
