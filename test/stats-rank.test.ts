import { describe, expect, it } from "vitest";
import { normalCdf } from "../src/stats/normal.js";
import { inversionsCdf, kendallTau, reversedPairs } from "../src/stats/rank.js";

describe("kendallTau", () => {
  it("perfect agreement → 1, reversal → −1, exact p = 2/n!", () => {
    const x = [1, 2, 3, 4, 5];
    const up = kendallTau(x, [10, 20, 30, 40, 50]);
    expect(up.tau).toBe(1);
    expect(up.method).toBe("exact");
    // only the identity permutation has 0 inversions: P = 1/120, two-sided 2/120
    expect(up.p).toBeCloseTo(2 / 120, 12);
    const down = kendallTau(x, [5, 4, 3, 2, 1]);
    expect(down.tau).toBe(-1);
    expect(down.p).toBeCloseTo(2 / 120, 12);
  });

  it("one swapped pair of 6: τ = 13/15, exact p = 2·(1 + 5)/720", () => {
    // permutations of 6 with ≤ 1 inversion: the identity and the 5 adjacent swaps
    const r = kendallTau([1, 2, 3, 4, 5, 6], [1, 2, 4, 3, 5, 6]);
    expect(r.tau).toBeCloseTo(13 / 15, 12);
    expect(r.p).toBeCloseTo(12 / 720, 12);
    expect(r).toMatchObject({ concordant: 14, discordant: 1 });
  });

  it("matches scipy.stats.kendalltau's documented example with ties (asymptotic p)", () => {
    // scipy docs: x = [12, 2, 1, 12, 2], y = [1, 4, 7, 1, 0] → tau = -0.47140452079103173,
    // p-value = 0.2827454599327748 (ties → method "asymptotic").
    const r = kendallTau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]);
    expect(r.tau).toBeCloseTo(-0.47140452079103173, 12);
    expect(r.p).toBeCloseTo(0.2827454599327748, 6);
    expect(r.method).toBe("normal");
  });

  it("uses the normal approximation above n = 33 and agrees with it on large n", () => {
    const n = 40;
    const x = Array.from({ length: n }, (_, i) => i);
    const y = x.map((i) => (i * 17) % n); // a scrambled but deterministic order
    const r = kendallTau(x, y);
    expect(r.method).toBe("normal");
    // no ties: var S = n(n−1)(2n+5)/18, p = erfc(|S|/√(2·var S)), computed here via normalCdf
    const s = r.concordant - r.discordant;
    const z = Math.abs(s) / Math.sqrt((n * (n - 1) * (2 * n + 5)) / 18);
    expect(r.p as number).toBeCloseTo(2 * (1 - normalCdf(z)), 9);
    expect(r.tau).toBeCloseTo(s / ((n * (n - 1)) / 2), 12);
  });

  it("is undefined for a constant ranking or fewer than two items", () => {
    expect(kendallTau([1, 1, 1], [1, 2, 3])).toMatchObject({ tau: null, p: null });
    expect(kendallTau([1], [1]).tau).toBeNull();
    expect(() => kendallTau([1, 2], [1])).toThrow(RangeError);
  });
});

describe("inversionsCdf (Mahonian distribution)", () => {
  it("n = 4: counts 1, 3, 5, 6, 5, 3, 1 over 24", () => {
    const counts = [1, 3, 5, 6, 5, 3, 1];
    let cum = 0;
    counts.forEach((c, k) => {
      cum += c;
      expect(inversionsCdf(4, k)).toBeCloseTo(cum / 24, 12);
    });
  });
});

describe("reversedPairs", () => {
  it("lists the pairs in opposite strict order only", () => {
    const names = ["a", "b", "c", "d"];
    const dev = [0.9, 0.8, 0.7, 0.7];
    const heldout = [0.6, 0.8, 0.5, 0.4];
    expect(reversedPairs(names, dev, heldout)).toEqual([{ first: "a", second: "b", x: [0.9, 0.8], y: [0.6, 0.8] }]);
    expect(reversedPairs(names, dev, dev)).toEqual([]);
    expect(() => reversedPairs(["a"], [1, 2], [1, 2])).toThrow(RangeError);
  });
});
