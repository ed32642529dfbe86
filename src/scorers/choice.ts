/**
 * `choice`: multiple choice. Works out which of the allowed choices the output picks, then compares
 * it with the expected one. An output that names several choices without leading with one is
 * ambiguous and fails, so hedging ("A or C") never scores.
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { escapeRegExp, expectedProblem, fail, isScalar, pass, quote, stringListOption, type Problem, type Scorer } from "./common.js";

/** Letters, digits and underscore make up a word; anything else (space, punctuation) ends one. */
const BEFORE = String.raw`(?<![\p{L}\p{N}_])`;
const AFTER = String.raw`(?![\p{L}\p{N}_])`;

function wordPattern(choice: string, flags: string): RegExp {
  return new RegExp(`${BEFORE}${escapeRegExp(choice)}${AFTER}`, flags);
}

/** Longest first, so "New York" wins over "New" and "AB" over "A". */
function byLength(choices: readonly string[]): string[] {
  return [...choices].sort((a, b) => b.length - a.length);
}

/** Which choice the output picks, or why none can be said to be picked. */
export function pickChoice(output: string, choices: readonly string[]): { choice: string } | { error: string } {
  const trimmed = output.trim();
  // Leading markup such as "**", "(" or "- " often wraps the answer letter; also try without it.
  const starts = [trimmed, trimmed.replace(/^[\p{P}\p{S}\s]+/u, "")];
  const ordered = byLength(choices);
  for (const start of starts) {
    const lead = ordered.find((c) => c !== "" && new RegExp(`^${escapeRegExp(c)}${AFTER}`, "iu").test(start));
    if (lead !== undefined) return { choice: lead };
  }
  // Blank out each longer choice once found, so a mention of "New York" is not also one of "York".
  let rest = trimmed;
  const mentioned: string[] = [];
  for (const c of ordered) {
    if (c === "") continue;
    const re = wordPattern(c, "giu");
    if (re.test(rest)) {
      mentioned.push(c);
      rest = rest.replace(wordPattern(c, "giu"), (m) => " ".repeat(m.length));
    }
  }
  const list = choices.join(", ");
  if (mentioned.length === 1 && mentioned[0] !== undefined) return { choice: mentioned[0] };
  if (mentioned.length === 0) return { error: `no choice found among ${list}` };
  const inOrder = choices.filter((c) => mentioned.includes(c));
  return { error: `ambiguous: mentions ${inOrder.join(", ")}` };
}

const fold = (s: string): string => s.toUpperCase().toLowerCase();

export const choice: Scorer = {
  options: { choices: "string[]" },
  needsExpected: true,
  check(spec, _hasExpected, expected): Problem[] {
    const problems: Problem[] = [];
    const choices = stringListOption(spec, "choices");
    if (choices === undefined) {
      return [{ field: "choices", message: 'choice scorer needs "choices", a list of at least two strings' }];
    }
    if (choices.length < 2) problems.push({ field: "choices", message: "choices must list at least two strings" });
    if (choices.some((c) => c.trim() === "")) problems.push({ field: "choices", message: "choices must not be empty strings" });
    const seen = new Set<string>();
    const dupes = choices.filter((c) => (seen.has(fold(c)) ? true : (seen.add(fold(c)), false)));
    if (dupes.length > 0) {
      problems.push({ field: "choices", message: `duplicate choices (case does not count): ${dupes.join(", ")}` });
    }
    if (expected !== undefined && !(isScalar(expected) && choices.some((c) => fold(c) === fold(String(expected))))) {
      problems.push(expectedProblem("choice", `one of ${choices.join(", ")}`));
    }
    return problems;
  },
  score(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Score {
    const choices = stringListOption(spec, "choices") ?? [];
    const picked = pickChoice(output, choices);
    if ("error" in picked) return fail(picked.error);
    const want = String(expected);
    if (fold(picked.choice) === fold(want)) return pass(`picked ${quote(picked.choice)}`);
    return fail(`picked ${quote(picked.choice)}, expected ${quote(want)}`);
  },
};
