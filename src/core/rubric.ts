import type { JsonValue, Score, ScorerSpec } from "./types.js";

/**
 * Rubrics (pure): named lists of weighted criteria, each criterion any scorer run at scoring time.
 * A `gate` criterion zeroes the rubric when it fails ("does it run"); the others add up:
 *   score = Σ (weight × value + points × pass) ÷ Σ (weight + points), in [0, 1].
 * A run reports every rubric per cell, and where two rubrics rank the cells differently.
 */

export interface Criterion {
  name: string;
  /** A scorer spec, or "task": the task's own scorer (else the suite's). */
  scorer: ScorerSpec | "task";
  weight: number;
  points: number;
  gate: boolean;
  /**
   * The expected answer the criterion's scorer sees: this value when given; for "task", the task's;
   * else the task's only when the scorer needs one (exact, numeric...), so a regex or contains
   * criterion checks its own pattern, not the task's answer.
   */
  expected?: JsonValue;
}

export interface Rubric {
  name: string;
  criteria: Criterion[];
}

export interface RubricResult {
  score: number;
  /** A gate criterion failed: the score is 0 whatever the others said. */
  gated: boolean;
  criteria: { name: string; pass: boolean; value: number }[];
}

export function combineRubric(rubric: Rubric, scores: readonly Score[]): RubricResult {
  const criteria = rubric.criteria.map((c, i) => {
    const s = scores[i] as Score;
    return { name: c.name, pass: s.pass, value: s.value };
  });
  const gated = rubric.criteria.some((c, i) => c.gate && !(scores[i] as Score).pass);
  let got = 0;
  let max = 0;
  rubric.criteria.forEach((c, i) => {
    const s = scores[i] as Score;
    got += c.weight * s.value + c.points * (s.pass ? 1 : 0);
    max += c.weight + c.points;
  });
  return { score: gated || max === 0 ? 0 : got / max, gated, criteria };
}

/** Where two rubrics order two cells differently (by mean score; ties are no disagreement). */
export interface RankDisagreement {
  rubrics: [string, string];
  /** Kendall's τ between the two rankings of the cells (1: the same order). */
  tau: number | null;
  pairs: { a: string; b: string; first: "a" | "b"; second: "a" | "b" }[];
}

export function rankDisagreements(cells: readonly { cellId: string; rubrics: readonly { name: string; mean: number | null }[] }[]): RankDisagreement[] {
  const names = [...new Set(cells.flatMap((c) => c.rubrics.map((r) => r.name)))];
  const out: RankDisagreement[] = [];
  const meanOf = (c: (typeof cells)[number], name: string) => c.rubrics.find((r) => r.name === name)?.mean ?? null;
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const [x, y] = [names[i] as string, names[j] as string];
      const pairs: RankDisagreement["pairs"] = [];
      let concordant = 0;
      let discordant = 0;
      for (let p = 0; p < cells.length; p++) {
        for (let q = p + 1; q < cells.length; q++) {
          const [a, b] = [cells[p] as (typeof cells)[number], cells[q] as (typeof cells)[number]];
          const [ax, bx, ay, by] = [meanOf(a, x), meanOf(b, x), meanOf(a, y), meanOf(b, y)];
          if (ax === null || bx === null || ay === null || by === null) continue;
          const s1 = Math.sign(ax - bx);
          const s2 = Math.sign(ay - by);
          if (s1 === 0 || s2 === 0) continue;
          if (s1 === s2) concordant++;
          else {
            discordant++;
            pairs.push({ a: a.cellId, b: b.cellId, first: s1 > 0 ? "a" : "b", second: s2 > 0 ? "a" : "b" });
          }
        }
      }
      out.push({ rubrics: [x, y], tau: concordant + discordant > 0 ? (concordant - discordant) / (concordant + discordant) : null, pairs });
    }
  }
  return out;
}
