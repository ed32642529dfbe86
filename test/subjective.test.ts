import { describe, expect, it } from "vitest";
import { effectiveRatings, parseRatingLine, subjectiveQuality, type PairwiseRating, type RatingLine, type ScoreRating } from "../src/core/subjective.js";
import { cohensKappa } from "../src/stats/kappa.js";

let clock = 0;
const time = () => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString();

function score(rater: string, cellId: string, task: string, value: number, area: string | null = "a"): ScoreRating {
  return { rater, time: time(), mode: "score", runId: "r", item: `${cellId}/${task}`, cellId, taskId: task, sample: 0, area, score: value, seed: 1, position: 1 };
}

function pair(rater: string, task: string, winner: "X" | "Y" | null, area = "a"): PairwiseRating {
  const left = task.length % 2 === 0 ? "X" : "Y";
  const right = left === "X" ? "Y" : "X";
  return { rater, time: time(), mode: "pairwise", runId: "r", item: `XY/${task}`, cells: ["X", "Y"], left, right, preference: winner === null ? "tie" : winner === left ? "left" : "right", winner, taskId: task, sample: 0, area, seed: 1, position: 1 };
}

describe("ratings lines", () => {
  it("parseRatingLine keeps well-formed lines and rejects the rest", () => {
    const s = score("alice", "C1", "t1", 4);
    expect(parseRatingLine(JSON.parse(JSON.stringify(s)))).toEqual(s);
    const p = pair("alice", "t1", "X");
    expect(parseRatingLine(JSON.parse(JSON.stringify(p)))).toEqual(p);
    expect(parseRatingLine({ ...s, score: 6 })).toBeNull();
    expect(parseRatingLine({ ...s, score: 2.5 })).toBeNull();
    expect(parseRatingLine({ ...p, left: "Z" })).toBeNull();
    expect(parseRatingLine({ ...p, preference: "both" })).toBeNull();
    expect(parseRatingLine("junk")).toBeNull();
    expect(parseRatingLine({ mode: "score", undo: true, rater: "alice", time: "t", runId: "r", item: "i" })).toMatchObject({ undo: true });
    // The winner is derived from left/right and the preference, not trusted from the line.
    expect(parseRatingLine({ ...p, winner: "Y" })).toMatchObject({ winner: p.winner });
  });

  it("effectiveRatings: the latest rating per rater and item counts, and an undo withdraws it", () => {
    const lines: RatingLine[] = [
      score("alice", "C1", "t1", 2),
      score("alice", "C1", "t2", 3),
      score("bob", "C1", "t1", 5),
      score("alice", "C1", "t1", 4), // re-rated
      { mode: "score", undo: true, rater: "alice", time: time(), runId: "r", item: "C1/t2" },
    ];
    const eff = effectiveRatings(lines);
    expect(eff.map((r) => [r.rater, r.item, (r as ScoreRating).score])).toEqual([
      ["bob", "C1/t1", 5],
      ["alice", "C1/t1", 4],
    ]);
  });
});

describe("subjectiveQuality", () => {
  it("score mode: per cell and area means over items (raters averaged per item), n, intervals", () => {
    const lines = [
      score("alice", "C1", "t1", 5, "x"),
      score("alice", "C1", "t2", 3, "x"),
      score("alice", "C1", "t3", 4, "y"),
      score("bob", "C1", "t1", 3, "x"), // item t1: mean 4
      score("alice", "C2", "t1", 1, "x"),
      score("alice", "C2", "t2", 2, "x"),
      score("alice", "OTHER", "t1", 5, "x"), // not asked for
    ];
    const q = subjectiveQuality(lines, [{ cellId: "C1" }, { cellId: "C2" }, { cellId: "C3" }], { seed: 5 });
    expect(q.raters).toEqual(["alice", "bob"]);
    expect(q.ratings).toBe(6);
    const [c1, c2, c3] = q.score?.cells ?? [];
    expect(c1).toMatchObject({ cellId: "C1", n: 3, ratings: 4 });
    expect(c1?.mean).toBeCloseTo((4 + 3 + 4) / 3, 12);
    expect(c1?.areas.map((a) => [a.area, a.n, a.mean])).toEqual([
      ["x", 2, 3.5],
      ["y", 1, 4],
    ]);
    expect(c1?.low as number).toBeLessThanOrEqual(c1?.mean as number);
    expect(c1?.high as number).toBeGreaterThanOrEqual(c1?.mean as number);
    expect(c1?.low as number).toBeGreaterThanOrEqual(3);
    expect(c2).toMatchObject({ cellId: "C2", n: 2, mean: 1.5 });
    expect(c3).toMatchObject({ cellId: "C3", n: 0, mean: null, low: null, high: null, areas: [] });
    expect(q.pairwise).toBeNull();
    expect(subjectiveQuality(lines, ["C1", "C2"], { seed: 5 })).toEqual(subjectiveQuality(lines, ["C1", "C2"], { seed: 5 }));
  });

  it("pairwise: Bradley–Terry with one virtual tie per pair, wins/ties/losses, per area", () => {
    // X wins 3, Y wins 1: with the virtual tie, π_X/π_Y = 3.5/1.5, θ = ±ln(7/3)/2.
    const lines = [pair("alice", "t1", "X"), pair("alice", "t2", "X"), pair("alice", "t3", "X", "b"), pair("alice", "t4", "Y", "b")];
    const q = subjectiveQuality(lines, ["X", "Y"], { resamples: 300 });
    const [x, y] = q.pairwise?.cells ?? [];
    expect(x).toMatchObject({ cellId: "X", n: 4, wins: 3, ties: 0, losses: 1 });
    expect(y).toMatchObject({ cellId: "Y", n: 4, wins: 1, ties: 0, losses: 3 });
    expect(x?.strength).toBeCloseTo(Math.log(7 / 3) / 2, 8);
    expect(y?.strength).toBeCloseTo(-Math.log(7 / 3) / 2, 8);
    expect(x?.low as number).toBeLessThanOrEqual(x?.strength as number);
    expect(x?.high as number).toBeGreaterThanOrEqual(x?.strength as number);
    expect(q.pairwise?.comparisons).toBe(4);
    expect(q.pairwise?.areas.map((a) => [a.area, a.comparisons])).toEqual([
      ["a", 2],
      ["b", 2],
    ]);
    // Area a: X 2–0 → with the virtual tie 2.5 : 0.5, θ_X = ln 5 / 2.
    expect(q.pairwise?.areas[0]?.cells[0]?.strength).toBeCloseTo(Math.log(5) / 2, 8);
    expect(q.score).toBeNull();
  });

  it("agreement: Cohen's kappa for two raters on their common items (score: also quadratic; pairwise: winner or tie)", () => {
    const a = [5, 4, 3, 2, 1, 4];
    const b = [5, 3, 3, 2, 2, 4];
    const lines: RatingLine[] = [
      ...a.map((v, i) => score("alice", "C1", `t${i}`, v)),
      ...b.map((v, i) => score("bob", "C1", `t${i}`, v)),
      score("bob", "C1", "bob-only", 3),
      pair("alice", "p1", "X"),
      pair("alice", "p2", null),
      pair("alice", "p3", "Y"),
      pair("bob", "p1", "X"),
      pair("bob", "p2", "Y"),
      pair("bob", "p3", "Y"),
    ];
    const q = subjectiveQuality(lines, ["C1", "X", "Y"]);
    const s = q.agreement.find((g) => g.mode === "score");
    const pairs = a.map((v, i) => [v, b[i] as number] as [number, number]);
    expect(s).toMatchObject({ raters: ["alice", "bob"], n: 6 });
    expect(s?.kappa).toBeCloseTo(cohensKappa(pairs).kappa as number, 12);
    expect(s?.weightedKappa).toBeCloseTo(cohensKappa(pairs, "quadratic").kappa as number, 12);
    expect(s?.observedAgreement).toBeCloseTo(4 / 6, 12);
    const p = q.agreement.find((g) => g.mode === "pairwise");
    expect(p).toMatchObject({ raters: ["alice", "bob"], n: 3, weightedKappa: null });
    expect(p?.kappa).toBeCloseTo(cohensKappa([["X", "X"], ["tie", "Y"], ["Y", "Y"]]).kappa as number, 12);
    // One rater: no agreement to report.
    expect(subjectiveQuality(lines.filter((l) => l.rater === "alice")).agreement).toEqual([]);
  });
});
