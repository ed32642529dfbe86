/**
 * Whole-answer comparison: `exact` (verbatim apart from surrounding whitespace) and `normalized`
 * (forgiving of case, Unicode compatibility forms, spacing and punctuation).
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { boolOption, expectedProblem, fail, isScalar, pass, quote, type Problem, type Scorer } from "./common.js";

/** Objects and lists would stringify to "[object Object]" or "a,b": never what a task author meant. */
function checkScalarExpected(type: string, expected: JsonValue | undefined): Problem[] {
  if (expected === undefined || isScalar(expected)) return [];
  return [expectedProblem(type, "a string, number or boolean")];
}

export const exact: Scorer = {
  options: { trim: "boolean" },
  needsExpected: true,
  check: (_spec, _hasExpected, expected) => checkScalarExpected("exact", expected),
  score(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Score {
    const want = String(expected);
    const got = boolOption(spec, "trim", true) ? output.trim() : output;
    return got === want ? pass(`exact match ${quote(want)}`) : fail(`expected ${quote(want)}, got ${quote(got)}`);
  },
};

/**
 * NFKC first so that e.g. full-width letters and ligatures become plain letters before folding;
 * upper-then-lower folds more pairs than toLowerCase alone ("ß" and "SS" both become "ss").
 * Punctuation is deleted rather than turned into a space so "don't" equals "dont".
 */
export function normalize(text: string): string {
  return text
    .normalize("NFKC")
    .toUpperCase()
    .toLowerCase()
    .normalize("NFKC")
    .replace(/\p{P}/gu, "")
    .replace(/\s+/gu, " ")
    .trim();
}

export const normalized: Scorer = {
  options: {},
  needsExpected: true,
  check: (_spec, _hasExpected, expected) => checkScalarExpected("normalized", expected),
  score(_spec: ScorerSpec, output: string, expected: JsonValue | undefined): Score {
    const want = normalize(String(expected));
    const got = normalize(output);
    if (got === want) return pass(`normalized match ${quote(want)}`);
    return fail(`expected ${quote(want)}, got ${quote(got)} (after normalizing)`);
  },
};
