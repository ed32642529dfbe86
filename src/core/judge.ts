import { sha256Hex } from "./canonical.js";
import type { JsonValue, Score, ScorerSpec } from "./types.js";

/**
 * The judge: the prompt a local model grades an output with, the verdict format it must answer
 * in, and the strict parser of that answer. Pure. The prompt is versioned: changing its text
 * changes JUDGE_PROMPT_VERSION, and so every grader id, so old grades are never mixed with new.
 */

export const JUDGE_PROMPT_VERSION = "judge-v1";

export interface JudgeSettings {
  rubric: string;
  /** Scores are whole numbers 1..scale. */
  scale: number;
  /** The lowest score that passes. */
  pass: number;
  maxTokens: number;
}

export function judgeSettings(spec: ScorerSpec): JudgeSettings {
  const scale = typeof spec.scale === "number" ? spec.scale : 5;
  return {
    rubric: typeof spec.rubric === "string" ? spec.rubric.trim() : "",
    scale,
    pass: typeof spec.pass === "number" ? spec.pass : Math.ceil(scale * 0.7),
    maxTokens: typeof spec.maxTokens === "number" ? spec.maxTokens : 96,
  };
}

const show = (v: JsonValue) => (typeof v === "string" ? v : JSON.stringify(v));

export function judgePrompt(s: JudgeSettings, task: { prompt: string; expected?: JsonValue; output: string }): string {
  return [
    "You are grading an answer to a task. Apply the rubric strictly.",
    `Rubric: ${s.rubric}`,
    `Task:\n${task.prompt}`,
    ...(task.expected !== undefined ? [`Reference answer:\n${show(task.expected)}`] : []),
    `Answer to grade:\n${task.output}`,
    `Reply with JSON only: {"score": <a whole number from 1 to ${s.scale}>, "reason": "<one short sentence>"}`,
    "",
  ].join("\n\n");
}

/** The verdict's JSON schema: node-llama-cpp turns it into a grammar, so the judge cannot answer otherwise. */
export function verdictSchema(s: JudgeSettings): { type: "object"; properties: Record<string, unknown> } {
  return {
    type: "object",
    properties: {
      score: { enum: Array.from({ length: s.scale }, (_, i) => i + 1) },
      reason: { type: "string", maxLength: 160 },
    },
  };
}

export type Verdict = { ok: true; score: number; reason: string } | { ok: false; error: string };

/**
 * The judge's reply, strictly: one JSON object (alone, or the first balanced {...} in the text)
 * with a whole-number `score` in 1..scale; `reason` a string when present. Anything else is an
 * error, never a guess.
 */
export function parseVerdict(reply: string, scale: number): Verdict {
  const text = reply.trim();
  const start = text.indexOf("{");
  if (start < 0) return { ok: false, error: `no JSON object in the reply: ${JSON.stringify(text.slice(0, 80))}` };
  let depth = 0;
  let inString = false;
  let end = -1;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) {
      end = i;
      break;
    }
  }
  if (end < 0) return { ok: false, error: `unfinished JSON object in the reply: ${JSON.stringify(text.slice(start, start + 80))}` };
  let value: unknown;
  try {
    value = JSON.parse(text.slice(start, end + 1));
  } catch (error) {
    return { ok: false, error: `malformed JSON: ${(error as Error).message}` };
  }
  const v = value as { score?: unknown; reason?: unknown };
  if (typeof v.score !== "number" || !Number.isInteger(v.score)) return { ok: false, error: `"score" must be a whole number, got ${JSON.stringify(v.score)}` };
  if (v.score < 1 || v.score > scale) return { ok: false, error: `"score" ${v.score} is outside 1..${scale}` };
  if (v.reason !== undefined && typeof v.reason !== "string") return { ok: false, error: `"reason" must be text` };
  return { ok: true, score: v.score, reason: typeof v.reason === "string" ? v.reason : "" };
}

/** The record's score from a verdict: value = (score − 1) ÷ (scale − 1), a pass at or above the threshold. */
export function verdictScore(v: Verdict, s: JudgeSettings): Score {
  if (!v.ok) return { pass: false, value: 0, reason: `judge reply unusable: ${v.error}` };
  return { pass: v.score >= s.pass, value: (v.score - 1) / (s.scale - 1), reason: `judge ${v.score}/${s.scale} (pass ≥ ${s.pass})${v.reason ? `: ${v.reason}` : ""}` };
}


/**
 * A grader's id: everything its verdicts depend on (scorer type and options, the grading model's
 * file, the prompt version). The same id means grades can be reused; any change, a new id.
 */
export function graderId(spec: ScorerSpec, modelSha256: string): string {
  const options = Object.fromEntries(Object.entries(spec).filter(([k]) => k !== "model").sort(([a], [b]) => a.localeCompare(b)));
  return `${spec.type}@${sha256Hex(JSON.stringify({ options, modelSha256, prompt: spec.type === "judge" ? JUDGE_PROMPT_VERSION : spec.type === "likelihood" ? "loglik-v1" : "cosine-v1" })).slice(0, 12)}`;
}

/** Cosine similarity of two vectors (0 when either is all zeros). */
export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
