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

/** Records with the newest grade of each generation applied (grades in file order). */
export function applyGrades(records: readonly RunRecord[], grades: readonly GradeLine[]): RunRecord[] {
  if (grades.length === 0) return [...records];
  const newest = new Map<string, GradeLine>();
  for (const g of grades) newest.set(`${g.cellId}\u0000${g.taskId}\u0000${g.sample}`, g);
  return records.map((r) => {
    const g = newest.get(`${r.cellId}\u0000${r.taskId}\u0000${r.sample}`);
    if (!g || r.finishReason === "error") return r;
    const { graderId, type, graderModel, raw, parsed, similarity, error } = g;
    return { ...r, score: g.score, grade: { graderId, type, graderModel, raw, parsed, similarity, error } };
  });
}
