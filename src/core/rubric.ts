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

/** One criterion's outcome, with what is needed to recompute the rubric when a late grade arrives. */
export interface CriterionResult {
  name: string;
  pass: boolean;
  value: number;
  weight: number;
  points: number;
  gate: boolean;
  /** Graded later: by a model (the scorer spec's key in grades.jsonl) or by people's ratings. */
  gradedBy?: { kind: "model"; specKey: string } | { kind: "people" };
  /** Not known yet (awaiting its grade or a rating): left out of the score until it is. */
  pending?: boolean;
}

export interface RubricResult {
  score: number;
  /** A gate criterion failed: the score is 0 whatever the others said. */
  gated: boolean;
  criteria: CriterionResult[];
}

/** The key a model-graded spec is found by in grades.jsonl: its canonical JSON. */
export function specKey(spec: ScorerSpec): string {
  return JSON.stringify(Object.fromEntries(Object.entries(spec).sort(([a], [b]) => a.localeCompare(b))));
}

export const PEOPLE = "people";

export function combineRubric(rubric: Rubric, scores: readonly Score[], isGraded: (spec: ScorerSpec) => boolean = () => false): RubricResult {
  return scoreCriteria(
    rubric.criteria.map((c, i) => {
      const s = scores[i] as Score;
      const base = { name: c.name, pass: s.pass, value: s.value, weight: c.weight, points: c.points, gate: c.gate };
      if (c.scorer !== "task" && c.scorer.type === PEOPLE) return { ...base, pass: false, value: 0, gradedBy: { kind: "people" as const }, pending: true };
      if (c.scorer !== "task" && isGraded(c.scorer)) return { ...base, gradedBy: { kind: "model" as const, specKey: specKey(c.scorer) }, pending: true };
      return base;
    }),
  );
}

/**
 * score = Σ (weight × value + points × pass) ÷ Σ (weight + points) over the known criteria; a
 * known gate that failed makes it 0. Pending criteria count once their grade or rating arrives.
 */
export function scoreCriteria(criteria: CriterionResult[]): RubricResult {
  const known = criteria.filter((c) => !c.pending);
  const gated = known.some((c) => c.gate && !c.pass);
  let got = 0;
  let max = 0;
  for (const c of known) {
    got += c.weight * c.value + c.points * (c.pass ? 1 : 0);
    max += c.weight + c.points;
  }
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

/**
 * People criteria from blind 1–5 ratings: the mean score of a generation's ratings becomes the
 * criterion's value, (mean − 1) ÷ 4, passing at a mean of 4 or more; unrated ones stay pending.
 * `meanScore` gives the mean rating of (cell, task, sample), or null when nobody rated it.
 */
export function applyPeopleCriteria<R extends { cellId: string; taskId: string; sample: number; rubrics?: Record<string, RubricResult> }>(records: readonly R[], meanScore: (cellId: string, taskId: string, sample: number) => number | null): R[] {
  return records.map((r) => {
    if (!r.rubrics || !Object.values(r.rubrics).some((x) => x.criteria.some((c) => c.gradedBy?.kind === "people"))) return r;
    const mean = meanScore(r.cellId, r.taskId, r.sample);
    if (mean === null) return r;
    const rubrics = Object.fromEntries(
      Object.entries(r.rubrics).map(([name, result]) => [name, scoreCriteria(result.criteria.map((c) => (c.gradedBy?.kind === "people" ? { ...c, value: (mean - 1) / 4, pass: mean >= 4, pending: false } : c)))]),
    );
    return { ...r, rubrics };
  });
}
