import { scoreCriteria } from "./rubric.js";
import type { RunRecord, Score } from "./types.js";

/**
 * A grade: what a grading model (a judge, an embedding model) said about one generation. Kept in
 * grades.jsonl beside the records; the newest grade of a generation supersedes its placeholder
 * score everywhere (summary, compare, report, export), and the record carries where it came from.
 */
export interface GradeLine {
  /** The grader: scorer type and options, grading model sha256, prompt version (core/judge.ts graderId). */
  graderId: string;
  type: string;
  graderModel: string;
  graderModelSha256: string;
  /** The scorer spec as the suite wrote it (core/rubric.ts specKey): how rubric criteria find their grades. */
  specKey?: string;
  cellId: string;
  taskId: string;
  sample: number;
  /** Judge: sha256 of the exact prompt the judge saw and of the rubric. */
  promptSha256: string | null;
  rubricSha256: string | null;
  /** Judge: its raw reply and the verdict parsed from it (null when unusable). */
  raw: string | null;
  parsed: { score: number; reason: string } | null;
  /** Similarity: the cosine between the output's and the expected text's embeddings. */
  similarity: number | null;
  score: Score;
  error: string | null;
  gradedAt: string;
}

export type RecordGrade = Pick<GradeLine, "graderId" | "type" | "graderModel" | "raw" | "parsed" | "similarity" | "error">;

/**
 * Records with grades applied (grades in file order, the newest wins): the main score takes the
 * newest grade of its own scorer spec (`gradedSpec`; records written before it existed: the
 * newest grade of the generation); a rubric criterion graded by a model takes the newest grade of
 * its spec, and the rubric is scored again.
 */
export function applyGrades(records: readonly RunRecord[], grades: readonly GradeLine[]): RunRecord[] {
  if (grades.length === 0) return [...records];
  const gen = (g: { cellId: string; taskId: string; sample: number }) => `${g.cellId}\u0000${g.taskId}\u0000${g.sample}`;
  const newestAny = new Map<string, GradeLine>();
  const newestBySpec = new Map<string, GradeLine>();
  for (const g of grades) {
    newestAny.set(gen(g), g);
    if (g.specKey) newestBySpec.set(`${gen(g)}\u0000${g.specKey}`, g);
  }
  return records.map((r) => {
    if (r.finishReason === "error") return r;
    const g = r.gradedSpec ? newestBySpec.get(`${gen(r)}\u0000${r.gradedSpec}`) : r.rubrics ? undefined : newestAny.get(gen(r));
    let out: RunRecord = r;
    if (g) {
      const { graderId, type, graderModel, raw, parsed, similarity, error } = g;
      out = { ...out, score: g.score, grade: { graderId, type, graderModel, raw, parsed, similarity, error } };
    }
    if (r.rubrics) {
      const rubrics = Object.fromEntries(
        Object.entries(r.rubrics).map(([name, result]) => {
          const criteria = result.criteria.map((c) => {
            if (c.gradedBy?.kind !== "model") return c;
            const cg = newestBySpec.get(`${gen(r)}\u0000${c.gradedBy.specKey}`);
            return cg ? { ...c, pass: cg.score.pass, value: cg.score.value, pending: false } : c;
          });
          return [name, scoreCriteria(criteria)];
        }),
      );
      out = { ...out, rubrics };
    }
    return out;
  });
}
