import { sha256Hex } from "./canonical.js";

/**
 * Pairwise judging: which of two cells' answers to the same task is better? Judges favour a
 * position (often the first answer), so each pair is judged in both orders and counts as a win
 * only when both orders pick the same answer; a split is "inconsistent", and the share of splits
 * is reported (the judge's position bias on this suite). Pure.
 */

export const PAIRWISE_PROMPT_VERSION = "pairwise-v1";

export function pairwisePrompt(rubric: string, task: string, first: string, second: string): string {
  return [
    "You are comparing two answers to the same task. Apply the rubric strictly; ignore which answer comes first.",
    `Rubric: ${rubric}`,
    `Task:\n${task}`,
    `Answer 1:\n${first}`,
    `Answer 2:\n${second}`,
    'Reply with JSON only: {"better": "1" or "2" or "tie", "reason": "<one short sentence>"}',
    "",
  ].join("\n\n");
}

export const PAIRWISE_SCHEMA = { type: "object", properties: { better: { enum: ["1", "2", "tie"] }, reason: { type: "string", maxLength: 160 } } } as const;

export type Preference = "1" | "2" | "tie";

export function parsePreference(reply: string): { ok: true; better: Preference } | { ok: false; error: string } {
  const match = reply.match(/\{[\s\S]*?\}/);
  if (!match) return { ok: false, error: `no JSON object in the reply: ${JSON.stringify(reply.trim().slice(0, 80))}` };
  try {
    const v = JSON.parse(match[0]) as { better?: unknown };
    if (v.better === "1" || v.better === "2" || v.better === "tie") return { ok: true, better: v.better };
    return { ok: false, error: `"better" must be "1", "2" or "tie", got ${JSON.stringify(v.better)}` };
  } catch (error) {
    return { ok: false, error: `malformed JSON: ${(error as Error).message}` };
  }
}

export type PairOutcome = "a" | "b" | "tie" | "inconsistent" | "unusable";

/**
 * One task's outcome from its two verdicts: `ab` judged with A's answer first, `ba` with B's first.
 * A win needs both orders to pick the same cell; both ties are a tie; anything else is inconsistent.
 */
export function combineOrders(ab: Preference | null, ba: Preference | null): PairOutcome {
  if (ab === null || ba === null) return "unusable";
  const first = ab === "1" ? "a" : ab === "2" ? "b" : "tie";
  const second = ba === "1" ? "b" : ba === "2" ? "a" : "tie";
  return first === second ? first : "inconsistent";
}

export interface PairwiseTally {
  tasks: number;
  aWins: number;
  bWins: number;
  ties: number;
  inconsistent: number;
  unusable: number;
  /** Inconsistent ÷ tasks judged in both orders: how often the order decided the verdict. */
  disagreementRate: number | null;
}

export function tallyPairs(outcomes: readonly PairOutcome[]): PairwiseTally {
  const count = (o: PairOutcome) => outcomes.filter((x) => x === o).length;
  const usable = outcomes.length - count("unusable");
  return { tasks: outcomes.length, aWins: count("a"), bWins: count("b"), ties: count("tie"), inconsistent: count("inconsistent"), unusable: count("unusable"), disagreementRate: usable ? count("inconsistent") / usable : null };
}

export function pairwiseGraderId(rubric: string, judgeSha256: string, a: string, b: string): string {
  return `pairwise@${sha256Hex(JSON.stringify({ rubric, judgeSha256, a, b, prompt: PAIRWISE_PROMPT_VERSION })).slice(0, 12)}`;
}
