import { describe, expect, it } from "vitest";
import {
  adjustComparisons,
  binomialHalfCdf,
  holm,
  mcnemarExact,
  minimalDetectableDifference,
  minimalDetectableDifferenceUnpaired,
  pairedComparison,
} from "../src/stats/paired.js";
import { createRng } from "../src/stats/random.js";

/** Exact P(X ≤ m), X ~ Bin(n, 1/2), with BigInt binomials: an independent reference. */
function exactHalfCdf(m: number, n: number): number {
  let coef = 1n;
  let total = 0n;
  for (let i = 0; i <= m; i++) {
    total += coef;
    coef = (coef * BigInt(n - i)) / BigInt(i + 1);
  }
  // scale down to a double without overflowing: keep the top 60 bits of the sum
  const shift = Math.max(0, total.toString(2).length - 60);
  return Number(total >> BigInt(shift)) * 2 ** (shift - n);
}

describe("binomialHalfCdf", () => {
  it("matches exact sums: n = 20, m = 5 → (1+20+190+1140+4845+15504)/2^20", () => {
    expect(binomialHalfCdf(5, 20)).toBeCloseTo(21700 / 1048576, 14);
    expect(binomialHalfCdf(-1, 20)).toBe(0);
    expect(binomialHalfCdf(20, 20)).toBe(1);
    expect(binomialHalfCdf(14, 20)).toBeCloseTo(1 - binomialHalfCdf(5, 20), 14);
  });
  it("matches BigInt references up to n = 2,000", () => {
    for (const [m, n] of [[3, 15], [40, 100], [450, 1000], [960, 2000]] as const) {
      const ref = exactHalfCdf(m, n);
      expect(Math.abs(binomialHalfCdf(m, n) / ref - 1)).toBeLessThan(1e-9);
    }
  });
  it("is stable at n = 100,000 (compare the continuity-corrected normal approximation)", () => {
    // sd = √(n/4) = 158.114; z = (49,800.5 − 50,000)/158.114 = −1.26175, Φ(z) = 0.10352
    const v = binomialHalfCdf(49_800, 100_000);
    expect(v).toBeCloseTo(0.10352, 3);
    // P(X ≤ n/2) = 1/2 + pmf(n/2)/2, pmf(n/2) ≈ √(2/(π n)) = 0.0025231
    expect(binomialHalfCdf(50_000, 100_000)).toBeCloseTo(0.5 + 0.0025231 / 2, 6);
    expect(binomialHalfCdf(0, 100_000)).toBe(0); // 2^−100000 underflows to 0, not NaN
  });
});

describe("mcnemarExact", () => {
  it("b = 1, c = 9 → 2·(1 + 10)/1024 = 0.021484375", () => {
    expect(mcnemarExact(1, 9)).toBeCloseTo(22 / 1024, 14);
    expect(mcnemarExact(9, 1)).toBeCloseTo(22 / 1024, 14);
  });
  it("balanced or empty discordance → 1", () => {
    expect(mcnemarExact(5, 5)).toBe(1);
    expect(mcnemarExact(0, 0)).toBe(1);
    expect(mcnemarExact(0, 1)).toBe(1); // 2·(1/2)
  });
  it("textbook values", () => {
    // b = 3, c = 12: 2·(1 + 15 + 105 + 455)/2^15 = 1152/32768 = 0.03515625
    expect(mcnemarExact(3, 12)).toBeCloseTo(0.03515625, 14);
    // b = 0, c = 6: 2/64 = 0.03125 — the smallest n that can reach p < 0.05
    expect(mcnemarExact(0, 6)).toBeCloseTo(0.03125, 14);
    // Wikipedia's McNemar example (b = 121, c = 35): χ² = 47.4, exact p ≈ 4.3e−12
    expect(mcnemarExact(121, 35) / (2 * exactHalfCdf(35, 156))).toBeCloseTo(1, 9);
    expect(mcnemarExact(121, 35)).toBeLessThan(1e-10);
  });
  it("large counts stay finite", () => {
    const p = mcnemarExact(49_800, 50_200);
    expect(p).toBeCloseTo(2 * binomialHalfCdf(49_800, 100_000), 12);
    expect(p).toBeGreaterThan(0.2);
    expect(p).toBeLessThan(0.22);
  });
  it("false-positive rate ≤ α = 0.05 when both cells have the same per-task pass probabilities", () => {
    const rng = createRng(2024);
    const suites = 2000;
    let rejections = 0;
    for (let s = 0; s < suites; s++) {
      let b = 0;
      let c = 0;
      for (let t = 0; t < 200; t++) {
        const p = rng(); // a task's true difficulty, shared by both cells
        const a = rng() < p;
        const bPass = rng() < p;
        if (a && !bPass) b++;
        else if (!a && bPass) c++;
      }
      if (mcnemarExact(b, c) < 0.05) rejections++;
    }
    expect(rejections / suites).toBeLessThanOrEqual(0.05);
    expect(rejections / suites).toBeGreaterThan(0.02); // conservative, not useless
  });
});

describe("holm", () => {
  it("[0.01, 0.04, 0.03] → [0.03, 0.06, 0.06]", () => {
    // sorted 0.01, 0.03, 0.04 → 3·0.01, 2·0.03, max(0.06, 1·0.04)
    const adj = holm([0.01, 0.04, 0.03]);
    expect(adj[0]).toBeCloseTo(0.03, 12);
    expect(adj[1]).toBeCloseTo(0.06, 12);
    expect(adj[2]).toBeCloseTo(0.06, 12);
  });
  it("caps at 1, keeps monotone order, handles empty", () => {
    expect(holm([0.5, 0.6])).toEqual([1, 1]);
    expect(holm([])).toEqual([]);
    const adj = holm([0.001, 0.2, 0.01, 0.04]);
    // 4·0.001 = 0.004, 3·0.01 = 0.03, 2·0.04 = 0.08, max(0.08, 0.2) = 0.2
    expect(adj.map((v) => Number(v.toFixed(10)))).toEqual([0.004, 0.2, 0.03, 0.08]);
    expect(() => holm([1.5])).toThrow(RangeError);
  });
});

describe("minimalDetectableDifference", () => {
  it("(z_0.975 + z_0.8)·√(ψ/n)", () => {
    // 1.959964 + 0.841621 = 2.801585; √(0.1/100) = 0.0316228 → 0.088594
    expect(minimalDetectableDifference(100, 0.1)).toBeCloseTo(0.088594, 5);
    expect(minimalDetectableDifference(400, 0.1)).toBeCloseTo(0.088594 / 2, 5);
    // unpaired at p = 0.5, n = 100: 2.801585·√(0.5/100) = 0.198102
    expect(minimalDetectableDifferenceUnpaired(100, 0.5)).toBeCloseTo(0.198102, 5);
    expect(() => minimalDetectableDifference(0, 0.1)).toThrow(RangeError);
  });
});

/** n tasks named t000..; outcome(i) gives task i's samples. */
function cell(n: number, outcome: (i: number) => number[]): Map<string, number[]> {
  return new Map(Array.from({ length: n }, (_, i) => [`t${String(i).padStart(3, "0")}`, outcome(i)]));
}

describe("pairedComparison", () => {
  it("a clear win is significant, with the right sign and wording", () => {
    const a = cell(100, (i) => [i < 50 ? 1 : 0]);
    const b = cell(100, (i) => [i < 70 ? 1 : 0]);
    const r = pairedComparison(a, b, { seed: 1 });
    expect(r).toMatchObject({ tasks: 100, passA: 0.5, passB: 0.7, aWins: 0, bWins: 20, ties: 80, significant: true });
    expect(r.difference).toBeCloseTo(0.2, 12);
    expect(r.pValue).toBeCloseTo(2 / 2 ** 20, 15);
    expect(r.low as number).toBeGreaterThan(0.1);
    expect(r.verdict).toMatch(/^B is better by 20\.0 points, 95% CI \[\d+\.\d, \d+\.\d\], p < 0\.001$/);
    // the other way round, with names: the winner's side, positive numbers
    const back = pairedComparison(b, a, { seed: 1, names: { a: "step1500", b: "step300" } });
    expect(back.difference).toBeCloseTo(-0.2, 12);
    expect(back.verdict).toMatch(/^step1500 is better by 20\.0 points, 95% CI \[\d+\.\d, \d+\.\d\], p < 0\.001$/);
  });

  it("identical results: no detectable difference, with the suite's MDD", () => {
    const a = cell(200, (i) => [i % 3 === 0 ? 0 : 1]);
    const r = pairedComparison(a, a);
    expect(r).toMatchObject({ difference: 0, low: 0, high: 0, pValue: 1, significant: false, mddMethod: "unpaired" });
    expect(r.verdict).toMatch(
      /^no detectable difference \(B − A = 0\.0 points, 95% CI \[0\.0, 0\.0\], p = 1\): this suite can only detect gaps above ~\d+(\.\d)? points$/,
    );
    // pooled (266 + 1)/402 = 0.664; 2.801585·√(2·0.664·0.336/200) = 0.1326 → "~13"
    expect(r.verdict).toContain("~13 points");
  });

  it("a small noisy gap is not significant and reports the paired MDD", () => {
    // 300 tasks, 30 discordant: B wins 17, A wins 13 → ψ = 0.1
    const a = cell(300, (i) => [i < 13 ? 1 : i < 30 ? 0 : i % 2]);
    const b = cell(300, (i) => [i < 13 ? 0 : i < 30 ? 1 : i % 2]);
    const r = pairedComparison(a, b, { seed: 4 });
    expect(r).toMatchObject({ aWins: 13, bWins: 17, significant: false, mddMethod: "paired" });
    expect(r.pValue).toBeCloseTo(mcnemarExact(13, 17), 14);
    expect(r.mdd).toBeCloseTo(minimalDetectableDifference(300, 0.1), 12);
    expect(r.verdict).toMatch(/^no detectable difference \(B − A = \+1\.3 points, 95% CI \[−\d\.\d, \d\.\d\], p = 0\.58\): this suite can only detect gaps above ~5\.1 points$/);
  });

  it("requires both p < α and a CI excluding 0", () => {
    // 5 tasks, B wins all: CI [100, 100] excludes 0 but the exact p = 2/32 = 0.0625
    const r = pairedComparison(cell(5, () => [0]), cell(5, () => [1]));
    expect(r.low).toBe(1);
    expect(r.pValue).toBeCloseTo(0.0625, 14);
    expect(r.significant).toBe(false);
    expect(r.verdict.startsWith("no detectable difference (B − A = +100.0 points")).toBe(true);
  });

  it("compares only the common task ids, and says which were left out", () => {
    const a = new Map([["x", [1]], ["y", [0]], ["only-a", [1]], ["empty", [] as number[]]]);
    const b = new Map([["y", [1]], ["x", [1]], ["only-b", [0]], ["empty", [1]]]);
    const r = pairedComparison(a, b);
    expect(r).toMatchObject({ tasks: 2, passA: 0.5, passB: 1, bWins: 1, aWins: 0, ties: 1 });
    expect(r.onlyInA).toEqual(["empty", "only-a"]);
    expect(r.onlyInB).toEqual(["empty", "only-b"]);
    const none = pairedComparison(new Map([["p", [1]]]), new Map([["q", [1]]]));
    expect(none).toMatchObject({ tasks: 0, difference: null, significant: false, verdict: "no common tasks to compare" });
  });

  it("with k samples, a task's mean decides who wins it (sign test)", () => {
    const a = cell(30, (i) => (i < 12 ? [1, 1, 0, 1, 0] : [1, 1, 1, 1, 1]));
    const b = cell(30, () => [1, 1, 1, 1, 1]);
    const r = pairedComparison(a, b, { seed: 2 });
    expect(r).toMatchObject({ bWins: 12, aWins: 0, ties: 18 });
    expect(r.difference).toBeCloseTo((12 * 0.4) / 30, 12);
    expect(r.pValue).toBeCloseTo(2 / 4096, 14);
    expect(r.verdict).toMatch(/^B is better by 16\.0 points/);
    expect(() => pairedComparison(new Map([["t", [2]]]), new Map([["t", [1]]]))).toThrow(/task t/);
  });

  it("is reproducible for a seed", () => {
    const a = cell(80, (i) => [i % 2, (i * 7) % 3 === 0 ? 1 : 0]);
    const b = cell(80, (i) => [i % 3 === 0 ? 0 : 1, i % 2]);
    expect(pairedComparison(a, b, { seed: 9 })).toEqual(pairedComparison(a, b, { seed: 9 }));
  });

  it("adjustComparisons applies Holm and rewrites the verdicts", () => {
    const base = cell(100, (i) => [i < 50 ? 1 : 0]);
    const strong = pairedComparison(base, cell(100, (i) => [i < 70 ? 1 : 0]));
    // B wins 8 of 8 discordant tasks: p = 2/256 = 0.0078, twice. Holm over the three:
    // strong·3, then weak·2 = 0.0156, then max(0.0156, weak·1) = 0.0156.
    const weak = pairedComparison(base, cell(100, (i) => [i < 58 ? 1 : 0]));
    const [s, w1, w2] = adjustComparisons([strong, weak, weak]);
    expect(s?.pAdjusted).toBeCloseTo(3 * strong.pValue, 14);
    expect(w1?.pAdjusted).toBeCloseTo(2 * (2 / 256), 14);
    expect(w2?.pAdjusted).toBeCloseTo(2 * (2 / 256), 14);
    expect(w1?.verdict).toMatch(/^B is better by 8\.0 points, 95% CI \[.*\], Holm-adjusted p = 0\.016$/);
    expect(w1?.significant).toBe(true);
  });
});
