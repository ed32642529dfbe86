/**
 * Scorers that need a model: `judge` (a local model grades the output against a rubric),
 * `similarity` (cosine similarity of embeddings against the expected text) and `likelihood`
 * (multiple choice by the cell's own model's log-likelihood of each choice after the prompt). They cannot run in the
 * scoring pool beside generation; here they validate their options and mark the record as awaiting
 * grading. The grading phase (runner/grade.ts) loads the grading model once, grades every marked
 * record, and writes grades.jsonl, which supersedes these placeholder scores everywhere.
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { choice } from "./choice.js";
import type { Problem, Scorer } from "./common.js";

export const GRADED_TYPES = ["judge", "similarity", "likelihood"] as const;
export type GradedType = (typeof GRADED_TYPES)[number];

export function isGraded(spec: ScorerSpec | undefined): boolean {
  return spec !== undefined && (GRADED_TYPES as readonly string[]).includes(spec.type);
}

/** The placeholder score until grading: a fail whose reason says so, never a silent pass. */
export const AWAITING_GRADING = "awaiting grading";

function pending(type: string): Score {
  return { pass: false, value: 0, reason: `${AWAITING_GRADING} (${type}): run \`heldout judge <run>\`` };
}

const needModel = (spec: ScorerSpec): Problem[] => (typeof spec.model === "string" && spec.model.length > 0 ? [] : [{ field: "model", message: "needs the grading model: a manifest (models/*.yaml) or a .gguf path" }]);

export const judge: Scorer = {
  options: { model: "string", rubric: "string", pass: "number", scale: "number", maxTokens: "number" },
  needsExpected: false,
  check(spec: ScorerSpec): Problem[] {
    const problems = needModel(spec);
    if (typeof spec.rubric !== "string" || spec.rubric.trim() === "") problems.push({ field: "rubric", message: "needs a rubric: what a good answer does, in words the judge can apply" });
    const scale = spec.scale ?? 5;
    if (typeof scale !== "number" || !Number.isInteger(scale) || scale < 2 || scale > 10) problems.push({ field: "scale", message: "the top of the 1..scale score, a whole number from 2 to 10 (default 5)" });
    const threshold = spec.pass;
    if (threshold !== undefined && (typeof threshold !== "number" || threshold < 1 || threshold > (typeof scale === "number" ? scale : 5))) problems.push({ field: "pass", message: "the lowest score that passes, within 1..scale" });
    return problems;
  },
  score: (spec) => pending(spec.type),
};

export const similarity: Scorer = {
  options: { model: "string", threshold: "number" },
  needsExpected: true,
  check(spec: ScorerSpec, _hasExpected: boolean, expected: JsonValue | undefined): Problem[] {
    const problems = needModel(spec);
    const t = spec.threshold ?? 0.8;
    if (typeof t !== "number" || t < -1 || t > 1) problems.push({ field: "threshold", message: "a cosine similarity in [-1, 1] (default 0.8)" });
    if (expected !== undefined && typeof expected !== "string") problems.push({ field: "expected", message: "similarity compares text: expected must be a string" });
    return problems;
  },
  score: (spec) => pending(spec.type),
};

/**
 * `likelihood`: multiple choice by log-likelihood. The cell's own model scores every choice as a
 * continuation of the prompt; the most likely one (per-token mean by default, the sum with
 * `normalise: false`) is its pick. Choices and expected are checked as the `choice` scorer checks them.
 */
export const likelihood: Scorer = {
  options: { choices: "string[]", normalise: "boolean" },
  needsExpected: true,
  check: (spec, hasExpected, expected) => choice.check({ type: "choice", choices: spec.choices }, hasExpected, expected),
  score: (spec) => pending(spec.type),
};
