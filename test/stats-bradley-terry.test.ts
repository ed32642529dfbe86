import { describe, expect, it } from "vitest";
import { bradleyTerry, fitBradleyTerry, preferenceProbability, type PairwiseOutcome } from "../src/stats/bradley-terry.js";

const games = (a: string, b: string, aWins: number, bWins: number, ties = 0): PairwiseOutcome[] => [
  ...Array.from({ length: aWins }, () => ({ a, b, score: 1 as const })),
  ...Array.from({ length: bWins }, () => ({ a, b, score: 0 as const })),
  ...Array.from({ length: ties }, () => ({ a, b, score: 0.5 as const })),
];

describe("Bradley–Terry", () => {
  it("two players: the strength ratio is the win ratio (3–1 → ±ln 3 / 2)", () => {
    const fit = fitBradleyTerry(["A", "B"], games("A", "B", 3, 1));
    expect(fit.converged).toBe(true);
    expect(fit.strengths?.get("A")).toBeCloseTo(Math.log(3) / 2, 9);
    expect(fit.strengths?.get("B")).toBeCloseTo(-Math.log(3) / 2, 9);
    expect(preferenceProbability(fit.strengths?.get("A") as number, fit.strengths?.get("B") as number)).toBeCloseTo(0.75, 9);
  });

  it("three players whose results match π = (4, 2, 1) exactly: θ = (ln 2, 0, −ln 2)", () => {
    // A–B 3 games (A wins 2 = 3·4/6), A–C 5 games (A wins 4 = 5·4/5), B–C 3 games (B wins 2 = 3·2/3):
    // the likelihood equations Wᵢ = Σⱼ nᵢⱼ πᵢ/(πᵢ+πⱼ) hold at π = (4, 2, 1), so that is the MLE.
    const outcomes = [...games("A", "B", 2, 1), ...games("A", "C", 4, 1), ...games("B", "C", 2, 1)];
    const fit = fitBradleyTerry(["A", "B", "C"], outcomes);
    expect(fit.strengths?.get("A")).toBeCloseTo(Math.log(2), 8);
    expect(fit.strengths?.get("B")).toBeCloseTo(0, 8);
    expect(fit.strengths?.get("C")).toBeCloseTo(-Math.log(2), 8);
  });

  it("satisfies the likelihood equations on an irregular case (ties as half wins)", () => {
    const outcomes = [...games("A", "B", 5, 2, 1), ...games("B", "C", 3, 3, 2), ...games("C", "A", 1, 4), ...games("A", "D", 2, 2), ...games("D", "C", 3, 1, 1)];
    const players = ["A", "B", "C", "D"];
    const fit = fitBradleyTerry(players, outcomes);
    const s = fit.strengths as Map<string, number>;
    expect([...s.values()].reduce((x, y) => x + y, 0)).toBeCloseTo(0, 10); // centred
    for (const p of players) {
      let observed = 0;
      let expected = 0;
      for (const o of outcomes) {
        if (o.a !== p && o.b !== p) continue;
        const other = o.a === p ? o.b : o.a;
        observed += o.a === p ? o.score : 1 - o.score;
        expected += preferenceProbability(s.get(p) as number, s.get(other) as number);
      }
      expect(expected).toBeCloseTo(observed, 7);
    }
  });

  it("ties count half: 1 win and 2 ties → 2 : 1", () => {
    const fit = fitBradleyTerry(["A", "B"], games("A", "B", 1, 0, 2));
    expect((fit.strengths?.get("A") as number) - (fit.strengths?.get("B") as number)).toBeCloseTo(Math.log(2), 9);
  });

  it("a clean sweep has no MLE (null) unless pseudo-ties are added: 3–0 + one tie → ln 7", () => {
    expect(fitBradleyTerry(["A", "B"], games("A", "B", 3, 0)).strengths).toBeNull();
    const fit = fitBradleyTerry(["A", "B"], games("A", "B", 3, 0), { pseudoTies: 1 });
    expect((fit.strengths?.get("A") as number) - (fit.strengths?.get("B") as number)).toBeCloseTo(Math.log(3.5 / 0.5), 9);
  });

  it("unconnected players cannot be put on one scale; never-compared players have no strength", () => {
    expect(fitBradleyTerry(["A", "B", "C", "D"], [...games("A", "B", 2, 1), ...games("C", "D", 1, 2)]).strengths).toBeNull();
    const r = bradleyTerry(["A", "B", "C"], games("A", "B", 2, 1), { resamples: 200 });
    expect(r.players.find((p) => p.id === "C")).toMatchObject({ n: 0, strength: null, low: null, high: null });
  });

  it("bootstrap: counts, seeded bounds around the estimate, identical on a rerun", () => {
    const outcomes = [...games("A", "B", 12, 5, 3), ...games("B", "C", 9, 6), ...games("A", "C", 10, 2, 1)];
    const r = bradleyTerry(["A", "B", "C"], outcomes, { seed: 11, resamples: 500, pseudoTies: 1 });
    expect(r.comparisons).toBe(outcomes.length);
    expect(r.resamples).toBe(500);
    const a = r.players[0];
    expect(a).toMatchObject({ id: "A", n: 33, wins: 22, ties: 4, losses: 7 });
    for (const p of r.players) {
      expect(p.low as number).toBeLessThan(p.strength as number);
      expect(p.high as number).toBeGreaterThan(p.strength as number);
    }
    expect((r.players[0]?.strength as number) > (r.players[2]?.strength as number)).toBe(true);
    expect(bradleyTerry(["A", "B", "C"], outcomes, { seed: 11, resamples: 500, pseudoTies: 1 })).toEqual(r);
  });

  it("rejects comparisons with unknown players or bad scores", () => {
    expect(() => fitBradleyTerry(["A"], [{ a: "A", b: "Z", score: 1 }])).toThrow(/unknown/);
    expect(() => fitBradleyTerry(["A", "B"], [{ a: "A", b: "B", score: 0.3 as 0.5 }])).toThrow(/score/);
  });
});
