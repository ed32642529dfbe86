import { describe, expect, it } from "vitest";
import { consistency, passAtK, passHatK } from "../src/stats/samples.js";

/** C(n, k) by the direct formula, as an independent reference for small n. */
function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

describe("passAtK (Chen et al. 2021: 1 − C(n−c, k)/C(n, k))", () => {
  it("matches hand-computed values", () => {
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 12); // pass@1 is c/n
    expect(passAtK(10, 3, 10)).toBe(1); // all 10 drawn: the 3 passes are among them
    expect(passAtK(10, 0, 5)).toBe(0);
    expect(passAtK(5, 2, 2)).toBeCloseTo(1 - choose(3, 2) / choose(5, 2), 12); // 1 − 3/10 = 0.7
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 12);
    expect(passAtK(10, 10, 3)).toBe(1);
  });

  it("agrees with the binomial formula across a grid", () => {
    for (let n = 1; n <= 20; n++) {
      for (let c = 0; c <= n; c++) {
        for (let k = 1; k <= n; k++) {
          expect(passAtK(n, c, k)).toBeCloseTo(1 - choose(n - c, k) / choose(n, k), 10);
        }
      }
    }
  });

  it("stays finite where the binomials overflow (n = 2000)", () => {
    const v = passAtK(2000, 7, 100);
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThan(0.3);
    expect(v).toBeLessThan(0.31); // ≈ 1 − (1 − 100/2000)^7 = 0.3017
  });

  it("rejects k > n and bad counts", () => {
    expect(() => passAtK(5, 2, 6)).toThrow(RangeError);
    expect(() => passAtK(5, 6, 1)).toThrow(RangeError);
    expect(() => passAtK(0, 0, 1)).toThrow(RangeError);
  });
});

describe("passHatK (C(c, k)/C(n, k))", () => {
  it("matches hand-computed values", () => {
    expect(passHatK(5, 2, 2)).toBeCloseTo(1 / 10, 12);
    expect(passHatK(5, 5, 5)).toBe(1);
    expect(passHatK(5, 4, 5)).toBe(0);
    expect(passHatK(10, 3, 1)).toBeCloseTo(0.3, 12);
    expect(passHatK(8, 6, 3)).toBeCloseTo(choose(6, 3) / choose(8, 3), 12); // 20/56
  });
});

describe("consistency", () => {
  const T = true;
  const F = false;
  const perTask = new Map<string, boolean[]>([
    ["a", [T, T, T]],
    ["b", [T, F, T]],
    ["c", [F, F, F]],
    ["d", [F, T, F]],
    ["e", [T, F, F]],
  ]);

  it("computes pass@1, pass@k, pass^k and the all-fail share (k = 3 = n)", () => {
    const r = consistency(perTask);
    expect(r.k).toBe(3);
    expect(r.tasks).toBe(5);
    // shares: 1, 2/3, 0, 1/3, 1/3 → mean 7/15
    expect(r.pass1).toBeCloseTo(7 / 15, 12);
    // pass@3 with n = 3: 1 if any pass → 4/5
    expect(r.passAtK).toBeCloseTo(4 / 5, 12);
    // pass^3: only "a" passes every sample → 1/5
    expect(r.passHatK).toBeCloseTo(1 / 5, 12);
    expect(r.allFail).toBeCloseTo(1 / 5, 12);
    expect(r.unstable).toBeCloseTo(3 / 5, 12);
    expect(r.perTask.map((t) => t.id)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("uses the unbiased estimators when k < n", () => {
    const r = consistency(perTask, 2);
    // pass@2 per task: a 1, b 1 − C(1,2)/C(3,2) = 1, c 0, d 1 − C(2,2)/C(3,2) = 2/3, e 2/3
    expect(r.passAtK).toBeCloseTo((1 + 1 + 0 + 2 / 3 + 2 / 3) / 5, 12);
    // pass^2 per task: a 1, b C(2,2)/C(3,2) = 1/3, others 0
    expect(r.passHatK).toBeCloseTo((1 + 1 / 3) / 5, 12);
  });

  it("lists the least stable tasks: share nearest 0.5 first, ties by id", () => {
    const r = consistency(perTask);
    // b 2/3, d 1/3 and e 1/3 are all 1/6 from 0.5 → by id
    expect(r.leastStable.map((t) => t.id)).toEqual(["b", "d", "e"]);
    const r2 = consistency([[T, F], [T, T, F], [F, T, F, F]], undefined, { ids: ["z", "y", "x"], limit: 2 });
    // z: 0.5, y: 2/3 (1/6 off), x: 1/4 (1/4 off)
    expect(r2.k).toBe(2);
    expect(r2.leastStable.map((t) => t.id)).toEqual(["z", "y"]);
  });

  it("takes arrays with default ids, reports tasks without samples, rejects k above a task's samples", () => {
    const r = consistency([[T], [], [F]]);
    expect(r.withoutSamples).toEqual(["1"]);
    expect(r.tasks).toBe(2);
    expect(r.pass1).toBe(0.5);
    expect(() => consistency(perTask, 4)).toThrow(/task a has 3/);
    expect(() => consistency([[T]], undefined, { ids: ["a", "b"] })).toThrow(RangeError);
    expect(consistency(new Map())).toMatchObject({ tasks: 0, pass1: null, passAtK: null });
  });
});
