/**
 * Scorers turn a model's output into a Score. This module is the only entry point: a fixed map from
 * scorer type to implementation, a validator run while loading suites (before any model loads, so
 * mistakes cost nothing), and a scoring function that never throws.
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { checkOptions, fail, type Problem, type Scorer } from "./common.js";
import { choice } from "./choice.js";
import { code, isAsyncScorer } from "./code.js";
import { contains } from "./contains.js";
import { exact, normalized } from "./exact.js";
import { judge, likelihood, similarity } from "./graded.js";
import { json } from "./json.js";
import { injection, leak } from "./leak.js";
import { numeric } from "./numeric.js";
import { refusal } from "./refusal.js";
import { regex } from "./regex.js";

export type { Problem } from "./common.js";

/** A Map rather than an object literal so types such as "toString" or "__proto__" are unknown, not inherited. */
const SCORERS: ReadonlyMap<string, Scorer> = new Map<string, Scorer>([
  ["exact", exact],
  ["normalized", normalized],
  ["normalised", normalized],
  ["contains", contains],
  ["regex", regex],
  ["numeric", numeric],
  ["json", json],
  ["choice", choice],
  ["judge", judge],
  ["similarity", similarity],
  ["likelihood", likelihood],
  ["code", code],
  ["leak", leak],
  ["injection", injection],
  ["refusal", refusal],
]);

export const SCORER_TYPES: readonly string[] = Object.freeze([...SCORERS.keys()]);

/** Whether a scorer type compares against the task's expected answer (unknown types: no). */
export function needsExpected(type: string): boolean {
  return SCORERS.get(type)?.needsExpected === true;
}

/**
 * Checks a scorer spec before any model loads. Returns problems; empty means valid. `field` names the
 * option at fault ("type", "expected", or the option's own name).
 */
export function validateScorer(spec: ScorerSpec, hasExpected: boolean, expected?: JsonValue): Problem[] {
  // Specs come from user files, so the declared type is not trusted at run time.
  const type: unknown = typeof spec === "object" && spec !== null ? spec.type : undefined;
  const known = SCORER_TYPES.join(", ");
  if (typeof type !== "string") {
    return [{ field: "type", message: `scorer needs a "type"; known: ${known}` }];
  }
  const scorer = SCORERS.get(type);
  if (scorer === undefined) {
    return [{ field: "type", message: `unknown scorer "${type}"; known: ${known}` }];
  }
  const problems = checkOptions(spec, type, scorer.options);
  if (scorer.needsExpected && !hasExpected) {
    problems.push({ field: "expected", message: `${type} scorer needs an expected answer` });
  }
  // The scorer's own checks read options through typed getters, so they only run on well-typed options.
  if (problems.every((p) => p.field === "expected" || !Object.hasOwn(scorer.options, p.field))) {
    const given = hasExpected ? expected : undefined;
    problems.push(...scorer.check(spec, hasExpected, given));
  }
  return problems;
}

/**
 * Scores one output. Pure and synchronous; never throws. An invalid spec or missing expected answer
 * is a failed score whose reason says what is wrong, so one bad task cannot stop a run.
 */
export function scoreOutput(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Score {
  try {
    const problems = validateScorer(spec, expected !== undefined, expected);
    if (problems.length > 0) {
      const first = problems[0];
      return fail(`invalid scorer: ${first?.field}: ${first?.message}`);
    }
    const scorer = SCORERS.get(spec.type);
    if (scorer === undefined) return fail(`unknown scorer "${spec.type}"`);
    const text = typeof output === "string" ? output : String(output);
    return scorer.score(spec, text, expected);
  } catch (err) {
    // Last resort (e.g. a pathological regex or deeply nested JSON exhausting the stack).
    return fail(`scorer error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Scores one output, awaiting scorers that run something (`code` executes the output in a sandbox);
 * every other scorer is scoreOutput's. Never rejects.
 */
export async function scoreOutputAsync(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Promise<Score> {
  const scorer = typeof spec === "object" && spec !== null ? SCORERS.get(spec.type) : undefined;
  if (scorer === undefined || !isAsyncScorer(scorer)) return scoreOutput(spec, output, expected);
  try {
    const problems = validateScorer(spec, expected !== undefined, expected);
    const first = problems[0];
    if (first) return fail(`invalid scorer: ${first.field}: ${first.message}`);
    return await scorer.scoreAsync(spec, typeof output === "string" ? output : String(output), expected);
  } catch (err) {
    return fail(`scorer error: ${err instanceof Error ? err.message : String(err)}`);
  }
}
