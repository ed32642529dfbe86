/**
 * `contains`: the output mentions the expected text somewhere. A list of expected strings means all
 * of them must appear; each found one earns its share of the value, so partial answers show up.
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { boolOption, expectedProblem, fail, isScalar, pass, quote, type Problem, type Scorer } from "./common.js";

const NEEDS = "a non-empty string (or a non-empty list of them)";

function needles(expected: JsonValue | undefined): string[] {
  if (Array.isArray(expected)) return expected.filter(isScalar).map(String);
  return isScalar(expected) ? [String(expected)] : [];
}

export const contains: Scorer = {
  options: { caseSensitive: "boolean" },
  needsExpected: true,
  check(_spec, _hasExpected, expected): Problem[] {
    if (expected === undefined) return [];
    // An empty needle is contained in every output, so the task could never fail.
    const ok = Array.isArray(expected)
      ? expected.length > 0 && expected.every((e) => isScalar(e) && String(e) !== "")
      : isScalar(expected) && String(expected) !== "";
    return ok ? [] : [expectedProblem("contains", NEEDS)];
  },
  score(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Score {
    const wanted = needles(expected);
    if (wanted.length === 0) return fail("no expected text to look for");
    const caseSensitive = boolOption(spec, "caseSensitive", true);
    // toUpperCase().toLowerCase() folds like the normalized scorer, so "STRASSE" contains "straße".
    const fold = (s: string): string => (caseSensitive ? s : s.toUpperCase().toLowerCase());
    const haystack = fold(output);
    const missing = wanted.filter((w) => !haystack.includes(fold(w)));
    const found = wanted.length - missing.length;
    const value = found / wanted.length;
    if (missing.length === 0) {
      return pass(wanted.length === 1 ? `contains ${quote(wanted[0] ?? "")}` : `contains all ${wanted.length}`);
    }
    const list = missing.map((m) => quote(m, 40)).join(", ");
    const tally = wanted.length > 1 ? ` (${found} of ${wanted.length} found)` : "";
    return fail(`missing ${list}${tally}`, value);
  },
};
