/**
 * `regex`: the output matches a pattern. With an expected answer, the pattern's first capture group
 * (or the whole match when it has none) is the extracted answer and must equal it.
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { expectedProblem, fail, isScalar, pass, quote, stringOption, type Problem, type Scorer } from "./common.js";

/** Builds the RegExp, or says why it cannot be built. */
export function compile(pattern: string, flags: string | undefined): RegExp | string {
  try {
    return new RegExp(pattern, flags ?? "");
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export const regex: Scorer = {
  options: { pattern: "string", flags: "string" },
  needsExpected: false,
  check(spec, _hasExpected, expected): Problem[] {
    const problems: Problem[] = [];
    const pattern = stringOption(spec, "pattern");
    const flags = stringOption(spec, "flags");
    if (pattern === undefined) {
      problems.push({ field: "pattern", message: 'regex scorer needs a "pattern" string' });
    } else if (pattern === "") {
      problems.push({ field: "pattern", message: "pattern is empty, so it would match every output" });
    } else if (flags !== undefined && !/^[dgimsuvy]*$/.test(flags)) {
      problems.push({ field: "flags", message: `flags ${quote(flags)} may only use d, g, i, m, s, u, v, y` });
    } else {
      const re = compile(pattern, flags);
      // Duplicate or conflicting flags ("ii", "uv") compile-fail too; blame them when the pattern is fine.
      if (typeof re === "string") {
        const field = flags !== undefined && typeof compile(pattern, undefined) !== "string" ? "flags" : "pattern";
        problems.push({ field, message: `${field} does not compile: ${re}` });
      }
    }
    if (expected !== undefined && !isScalar(expected)) {
      problems.push(expectedProblem("regex", "a string, number or boolean"));
    }
    return problems;
  },
  score(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Score {
    const pattern = stringOption(spec, "pattern") ?? "";
    const re = compile(pattern, stringOption(spec, "flags"));
    if (typeof re === "string") return fail(`pattern does not compile: ${re}`);
    // A fresh RegExp per call, so a "g" or "y" flag cannot leak lastIndex between outputs.
    const match = re.exec(output);
    if (match === null) return fail(`no match for /${pattern}/`);
    // A group that did not take part in the match counts as empty text.
    const extracted = match.length > 1 ? (match[1] ?? "") : match[0];
    if (expected === undefined) return pass(`matched ${quote(extracted)}`);
    // Surrounding whitespace in a capture is almost always an artefact of the pattern, not the answer.
    const want = String(expected).trim();
    const got = extracted.trim();
    return got === want ? pass(`matched ${quote(got)}`) : fail(`expected ${quote(want)}, got ${quote(got)}`);
  },
};
