import { describe, expect, it } from "vitest";
import { cohensKappa, cohensKappaInterval, commonItems } from "../src/stats/kappa.js";

const repeat = <T>(pair: T, n: number): T[] => Array.from({ length: n }, () => pair);

describe("cohensKappa", () => {
  it("unweighted: the textbook 2×2 case (Wikipedia's example): pₒ = 0.7, pₑ = 0.5, κ = 0.4", () => {
    // 50 items: both yes 20, A yes / B no 5, A no / B yes 10, both no 15.
    const pairs = [...repeat(["yes", "yes"] as const, 20), ...repeat(["yes", "no"] as const, 5), ...repeat(["no", "yes"] as const, 10), ...repeat(["no", "no"] as const, 15)];
    const k = cohensKappa(pairs);
    expect(k.n).toBe(50);
    expect(k.observedAgreement).toBeCloseTo(0.7, 12);
    expect(k.expected).toBeCloseTo(0.5, 12);
    expect(k.kappa).toBeCloseTo(0.4, 12);
  });

  it("perfect agreement is 1, systematic disagreement below 0, and constant identical ratings undefined", () => {
    expect(cohensKappa([[1, 1], [2, 2], [3, 3]]).kappa).toBe(1);
    expect(cohensKappa([["a", "b"], ["b", "a"]]).kappa).toBe(-1);
    expect(cohensKappa([[4, 4], [4, 4]]).kappa).toBeNull(); // pₑ = 1
    expect(cohensKappa([])).toMatchObject({ n: 0, kappa: null, observedAgreement: null });
  });

  it("quadratic weights: a near miss costs less than a wide one (hand-computed)", () => {
    // Two adjacent swaps: observed E[(a−b)²] = 2/5; chance E = E[a²] + E[b²] − 2·E[a]·E[b] = 11 + 11 − 18 = 4 → κ_w = 0.9.
    const near = cohensKappa([[1, 1], [2, 2], [3, 3], [4, 5], [5, 4]], "quadratic");
    expect(near.kappa).toBeCloseTo(0.9, 12);
    expect(near.expected).toBeCloseTo(4, 12);
    // The same pattern with a wide swap (1 ↔ 5): observed 32/5, chance 4 → κ_w = −0.6.
    const wide = cohensKappa([[1, 5], [2, 2], [3, 3], [4, 4], [5, 1]], "quadratic");
    expect(wide.kappa).toBeCloseTo(1 - 6.4 / 4, 12);
    // Unweighted, both have 3 of 5 identical and identical marginals: the same κ.
    expect(cohensKappa([[1, 1], [2, 2], [3, 3], [4, 5], [5, 4]]).kappa).toBeCloseTo(cohensKappa([[1, 5], [2, 2], [3, 3], [4, 4], [5, 1]]).kappa as number, 12);
  });

  it("quadratic κ equals 2·cov(a, b) / (var a + var b + (mean a − mean b)²) (population moments)", () => {
    const pairs: [number, number][] = [[1, 2], [2, 2], [3, 4], [5, 5], [4, 3], [2, 1], [5, 4], [3, 3]];
    const n = pairs.length;
    const ma = pairs.reduce((s, [a]) => s + a, 0) / n;
    const mb = pairs.reduce((s, [, b]) => s + b, 0) / n;
    const cov = pairs.reduce((s, [a, b]) => s + (a - ma) * (b - mb), 0) / n;
    const va = pairs.reduce((s, [a]) => s + (a - ma) ** 2, 0) / n;
    const vb = pairs.reduce((s, [, b]) => s + (b - mb) ** 2, 0) / n;
    expect(cohensKappa(pairs, "quadratic").kappa).toBeCloseTo((2 * cov) / (va + vb + (ma - mb) ** 2), 12);
  });

  it("quadratic weights refuse non-numeric ratings", () => {
    expect(() => cohensKappa([["a", "b"]], "quadratic")).toThrow(/numeric/);
  });

  it("interval: seeded, brackets the estimate; commonItems matches by item", () => {
    const a = new Map<string, number>([["i1", 1], ["i2", 2], ["i3", 3], ["i4", 4], ["i5", 5], ["i6", 2], ["only-a", 3]]);
    const b = new Map<string, number>([["i1", 1], ["i2", 3], ["i3", 3], ["i4", 4], ["i5", 4], ["i6", 2], ["only-b", 1]]);
    const pairs = commonItems(a, b);
    expect(pairs).toHaveLength(6);
    const k = cohensKappaInterval(pairs, "quadratic", { seed: 3 });
    expect(k.low as number).toBeLessThanOrEqual(k.kappa as number);
    expect(k.high as number).toBeGreaterThanOrEqual(k.kappa as number);
    expect(cohensKappaInterval(pairs, "quadratic", { seed: 3 })).toEqual(k);
  });
});
