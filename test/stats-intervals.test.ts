import { describe, expect, it } from "vitest";
import {
  bootstrapPercentile,
  meanOfTaskMeans,
  passRateInterval,
  percentileInterval,
  wilson,
} from "../src/stats/intervals.js";
import { criticalZ, normalCdf, normalQuantile } from "../src/stats/normal.js";
import { createRng, type Rng } from "../src/stats/random.js";
import { percentile } from "../src/core/percentile.js";

describe("normal distribution helpers", () => {
  it("quantiles and CDF match standard tables", () => {
    // Φ⁻¹(0.975) = 1.959963984540054 (any statistical table / scipy.stats.norm.ppf).
    expect(criticalZ(0.95)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.8)).toBeCloseTo(0.8416212335729143, 8);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 7);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.15865525393145707, 6);
  });
});

describe("random", () => {
  it("is reproducible for a seed and in [0, 1)", () => {
    const a = createRng(42);
    const b = createRng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(createRng(43)()).not.toBe(xs[0]);
    // a rough uniformity check: the mean of 1,000 uniforms is 0.5 ± 0.009 (1 sd)
    expect(Math.abs(xs.reduce((s, v) => s + v, 0) / 1000 - 0.5)).toBeLessThan(0.04);
  });
});

describe("wilson", () => {
  // Reference values from the closed form with z = 1.959964 (Wilson 1927; Newcombe 1998, Table I):
  // centre = (p + z²/2n)/(1 + z²/n), half = z/(1 + z²/n)·√(p(1−p)/n + z²/4n²).
  it("8/10 → [0.4902, 0.9433]", () => {
    const w = wilson(8, 10);
    expect(w.estimate).toBe(0.8);
    expect(w.low).toBeCloseTo(0.4902, 4);
    expect(w.high).toBeCloseTo(0.9433, 4);
  });
  it("0/10 → [0, z²/(n + z²)] = [0, 0.2775]", () => {
    expect(wilson(0, 10)).toEqual({ estimate: 0, low: 0, high: expect.closeTo(3.841459 / 13.841459, 6) });
    expect(wilson(0, 10).high).toBeCloseTo(0.2775, 4);
  });
  it("10/10 → [n/(n + z²), 1] = [0.7225, 1]", () => {
    const w = wilson(10, 10);
    expect(w.low).toBeCloseTo(0.7225, 4);
    expect(w.high).toBe(1);
  });
  it("50/100 → [0.4038, 0.5962], symmetric around 0.5", () => {
    const w = wilson(50, 100);
    expect(w.low).toBeCloseTo(0.4038, 4);
    expect(w.high).toBeCloseTo(0.5962, 4);
    expect(w.low + w.high).toBeCloseTo(1, 12);
  });
  it("other confidence levels: 8/10 at 90% → [0.5408, 0.9314]", () => {
    // z = 1.644854, z² = 2.705543: centre = (0.8 + 0.135277)/1.270554 = 0.736116,
    // half = (1.644854/1.270554)·√(0.016 + 0.006764) = 1.294590·0.150877 = 0.195325.
    const w = wilson(8, 10, 0.9);
    expect(w.low).toBeCloseTo(0.5408, 4);
    expect(w.high).toBeCloseTo(0.9314, 4);
  });
  it("n = 0 gives a null estimate with the uninformative bounds [0, 1]", () => {
    expect(wilson(0, 0)).toEqual({ estimate: null, low: 0, high: 1 });
  });
  it("rejects impossible counts", () => {
    expect(() => wilson(11, 10)).toThrow(RangeError);
    expect(() => wilson(1.5, 10)).toThrow(RangeError);
    expect(() => wilson(1, 10, 1)).toThrow(RangeError);
  });

  it("covers the true pass rate 94–96% of the time on average (seeded simulation)", () => {
    const rng = createRng(12345);
    const suites = 4000;
    const coverages: number[] = [];
    for (const p of [0.05, 0.2, 0.5, 0.8, 0.95]) {
      for (const n of [30, 100, 300]) {
        let covered = 0;
        for (let s = 0; s < suites; s++) {
          const x = binomial(rng, n, p);
          const w = wilson(x, n);
          if (w.low <= p && p <= w.high) covered++;
        }
        const coverage = covered / suites;
        // Wilson's coverage oscillates with n·p and dips below nominal at small n·p (Brown, Cai &
        // DasGupta 2001, Fig. 4), so each cell only has to stay above 0.90.
        expect(coverage, `p = ${p}, n = ${n}`).toBeGreaterThanOrEqual(0.9);
        coverages.push(coverage);
      }
    }
    const average = coverages.reduce((s, v) => s + v, 0) / coverages.length;
    expect(average).toBeGreaterThanOrEqual(0.94);
    expect(average).toBeLessThanOrEqual(0.96);
  });
});

function binomial(rng: Rng, n: number, p: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) if (rng() < p) x++;
  return x;
}

describe("bootstrapPercentile", () => {
  const values = Array.from({ length: 50 }, (_, i) => (i * 37) % 101);
  const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;

  it("is reproducible for a seed and brackets the estimate", () => {
    const a = bootstrapPercentile(values, mean, { seed: 7 });
    const b = bootstrapPercentile(values, mean, { seed: 7 });
    expect(a).toEqual(b);
    expect(a.resamples).toBe(2000);
    expect(a.estimate).toBeCloseTo(mean(values), 12);
    expect(a.low as number).toBeLessThan(a.estimate as number);
    expect(a.high as number).toBeGreaterThan(a.estimate as number);
    expect(bootstrapPercentile(values, mean, { seed: 8 })).not.toEqual(a);
  });

  it("is close to the normal-theory interval for a mean (sd/√n · 1.96)", () => {
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean(values)) ** 2, 0) / values.length);
    const half = (1.96 * sd) / Math.sqrt(values.length);
    const ci = bootstrapPercentile(values, mean, { resamples: 4000, seed: 1 });
    expect(Math.abs(((ci.high as number) - (ci.low as number)) / 2 / half - 1)).toBeLessThan(0.1);
  });

  it("narrows with a lower confidence level", () => {
    const wide = bootstrapPercentile(values, mean, { confidence: 0.99 });
    const narrow = bootstrapPercentile(values, mean, { confidence: 0.8 });
    expect((narrow.high as number) - (narrow.low as number)).toBeLessThan((wide.high as number) - (wide.low as number));
  });

  it("returns nulls for no units and drops undefined replicates", () => {
    expect(bootstrapPercentile([], mean)).toEqual({ estimate: null, low: null, high: null, resamples: 0 });
    const ci = bootstrapPercentile([1, 2, 3], (xs) => (xs.includes(1) ? 1 : null), { resamples: 500 });
    expect(ci.resamples).toBeLessThan(500);
    expect(ci.low).toBe(1);
  });

  it("works on weighted units", () => {
    const units = [
      { score: 1, weight: 3 },
      { score: 0, weight: 1 },
      { score: 1, weight: 1 },
      { score: 0, weight: 1 },
    ];
    const weighted = (xs: readonly { score: number; weight: number }[]): number =>
      xs.reduce((s, u) => s + u.score * u.weight, 0) / xs.reduce((s, u) => s + u.weight, 0);
    const ci = bootstrapPercentile(units, weighted, { seed: 3 });
    expect(ci.estimate).toBeCloseTo(4 / 6, 12);
    expect(ci.low as number).toBeGreaterThanOrEqual(0);
    expect(ci.high as number).toBeLessThanOrEqual(1);
  });
});

describe("passRateInterval", () => {
  it("uses Wilson when every task has exactly one 0/1 sample", () => {
    const perTask = [...Array(8).fill([1]), ...Array(2).fill([0])] as number[][];
    const r = passRateInterval(perTask);
    expect(r.method).toBe("wilson");
    expect(r.low).toBeCloseTo(0.4902, 4);
    expect(r.high).toBeCloseTo(0.9433, 4);
    expect(r.tasks).toBe(10);
  });

  it("bootstraps over tasks when tasks have several samples", () => {
    const perTask = Array.from({ length: 40 }, (_, i) => [i % 2, i % 3 === 0 ? 1 : 0, 1]);
    const r = passRateInterval(perTask, { seed: 5 });
    expect(r.method).toBe("bootstrap");
    expect(r.estimate).toBeCloseTo(meanOfTaskMeans(perTask) as number, 12);
    expect(r.low).toBeLessThan(r.estimate as number);
    expect(r.high).toBeGreaterThan(r.estimate as number);
    expect(passRateInterval(perTask, { seed: 5 })).toEqual(r);
  });

  it("falls back to Wilson on task counts when every sample agrees, instead of [1, 1]", () => {
    const r = passRateInterval(Array.from({ length: 10 }, () => [1, 1, 1]));
    expect(r).toMatchObject({ method: "wilson", estimate: 1, high: 1 });
    expect(r.low).toBeCloseTo(0.7225, 4);
  });

  it("ignores tasks without samples; no tasks → null estimate, [0, 1]", () => {
    expect(passRateInterval([[1], [], [0]]).tasks).toBe(2);
    expect(passRateInterval([])).toMatchObject({ estimate: null, low: 0, high: 1, method: "wilson" });
    expect(() => passRateInterval([[2]])).toThrow(RangeError);
  });

  it("bootstrap intervals with k = 5 samples per task cover the truth (seeded simulation)", () => {
    // 100 tasks, each with its own pass probability drawn uniformly; the truth is their mean.
    const rng = createRng(99);
    const trials = 200;
    let covered = 0;
    for (let t = 0; t < trials; t++) {
      const probs = Array.from({ length: 100 }, () => rng());
      const truth = probs.reduce((s, v) => s + v, 0) / probs.length;
      const perTask = probs.map((p) => Array.from({ length: 5 }, () => (rng() < p ? 1 : 0)));
      const r = passRateInterval(perTask, { resamples: 400, seed: t });
      if (r.low <= truth && truth <= r.high) covered++;
    }
    // Nominal 0.95; the percentile bootstrap runs slightly narrow, and 200 trials have sd ≈ 0.015.
    expect(covered / trials).toBeGreaterThanOrEqual(0.88);
  });
});

describe("percentileInterval", () => {
  it("uses the type-7 percentile as its estimate and brackets it", () => {
    const latencies = Array.from({ length: 300 }, (_, i) => 100 + ((i * 7919) % 300));
    const ci = percentileInterval(latencies, 95, { seed: 11 });
    expect(ci.estimate).toBe(percentile(latencies, 95));
    expect(ci.low as number).toBeLessThanOrEqual(ci.estimate as number);
    expect(ci.high as number).toBeGreaterThanOrEqual(ci.estimate as number);
    const median = percentileInterval(latencies, 50, { seed: 11 });
    expect(median.estimate).toBe(percentile(latencies, 50));
  });
  it("ignores non-finite values; empty → nulls", () => {
    expect(percentileInterval([1, Number.NaN, 3], 50).estimate).toBe(2);
    expect(percentileInterval([], 50)).toMatchObject({ estimate: null, low: null, high: null });
    expect(() => percentileInterval([1], 101)).toThrow(RangeError);
  });
});
