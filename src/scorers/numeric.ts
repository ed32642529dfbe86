/**
 * `numeric`: the last number in the output (models tend to reason first and answer last) compared
 * with the expected number within an absolute or relative tolerance.
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { expectedProblem, fail, fmt, numberOption, pass, type Problem, type Scorer } from "./common.js";

/*
 * One number: optional sign (ASCII or U+2212 minus), then digits with comma thousands groups
 * ("1,234,567"; a group must be exactly three digits, so "1,2,3" is three numbers), or plain digits,
 * or a bare ".5"; then an optional fraction and exponent. The lookbehind stops a match starting in
 * the middle of a digit run, and keeps "3-5" (a range) from reading as minus five.
 */
const NUMBER_SOURCE = String.raw`[-+\u2212]?(?:\d{1,3}(?:,\d{3}(?!\d))+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?`;
const NUMBER_ANYWHERE = new RegExp(String.raw`(?<![\d.])${NUMBER_SOURCE}`, "g");
const NUMBER_WHOLE = new RegExp(`^${NUMBER_SOURCE}$`);

function parseNumber(text: string): number {
  return Number(text.replace(/,/g, "").replace("\u2212", "-"));
}

/** The last number written in `text`, or undefined when there is none. */
export function lastNumber(text: string): number | undefined {
  let last: number | undefined;
  for (const m of text.matchAll(NUMBER_ANYWHERE)) {
    const n = parseNumber(m[0]);
    if (Number.isFinite(n)) last = n;
  }
  return last;
}

/** Expected as a number: a JSON number, or a string written the way outputs are read ("1,234.5"). */
export function expectedNumber(expected: JsonValue | undefined): number | undefined {
  if (typeof expected === "number") return Number.isFinite(expected) ? expected : undefined;
  if (typeof expected !== "string") return undefined;
  const text = expected.trim();
  if (!NUMBER_WHOLE.test(text)) return undefined;
  const n = parseNumber(text);
  return Number.isFinite(n) ? n : undefined;
}

function checkTolerance(spec: ScorerSpec, name: string): Problem[] {
  const v = spec[name];
  if (typeof v === "number" && v < 0) return [{ field: name, message: `${name} must be 0 or more, got ${v}` }];
  return [];
}

export const numeric: Scorer = {
  options: { tolerance: "number", relTolerance: "number" },
  needsExpected: true,
  check(spec, _hasExpected, expected): Problem[] {
    const problems = [...checkTolerance(spec, "tolerance"), ...checkTolerance(spec, "relTolerance")];
    if (expected !== undefined && expectedNumber(expected) === undefined) {
      problems.push(expectedProblem("numeric", "a number (or a numeric string)"));
    }
    return problems;
  },
  score(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Score {
    const want = expectedNumber(expected);
    if (want === undefined) return fail("expected answer is not a number");
    const got = lastNumber(output);
    const allowed = Math.max(numberOption(spec, "tolerance", 0), numberOption(spec, "relTolerance", 0) * Math.abs(want));
    const target = allowed > 0 ? `${fmt(want)} ± ${fmt(allowed)}` : fmt(want);
    if (got === undefined) return fail(`no number in output, expected ${target}`);
    // A few ulps of slack so that 0.4 is within 0.1 of 0.3 despite binary rounding.
    const slack = 4 * Number.EPSILON * Math.max(1, Math.abs(got), Math.abs(want));
    const ok = Math.abs(got - want) <= allowed + slack;
    return ok ? pass(`extracted ${fmt(got)}, expected ${target}`) : fail(`extracted ${fmt(got)}, expected ${target}`);
  },
};
