/**
 * `code`: runs the code in the output with the task's tests in a sandbox (src/sandbox). The value is
 * the share of tests passed; it passes when every test passes. Execution is asynchronous, so it is
 * scored through `scoreAsync` (scoreOutputAsync in the scoring worker); the synchronous `score` only
 * says so.
 *
 * Tests come from the `tests` option (a list of strings) or, without it, from the task's `expected`
 * (a list of strings or of `{name, code}` objects), so a suite can declare `{type: code, language}`
 * once and give each task its own tests.
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { extractCode, isLanguage, parseTests, type TestCase } from "../sandbox/extract.js";
import { sharedPool } from "../sandbox/pool.js";
import type { SandboxResult } from "../sandbox/run.js";
import { fail, fmt, numberOption, quote, stringListOption, type Problem, type Scorer } from "./common.js";

/** A scorer whose real work is asynchronous. */
export interface AsyncScorer extends Scorer {
  scoreAsync(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Promise<Score>;
}

export function isAsyncScorer(scorer: Scorer): scorer is AsyncScorer {
  return typeof (scorer as Partial<AsyncScorer>).scoreAsync === "function";
}

const RANGES: Readonly<Record<string, [number, number, string]>> = {
  timeoutMs: [100, 600_000, "milliseconds of wall clock, 100 to 600000 (default 10000)"],
  cpuSeconds: [1, 600, "CPU seconds, 1 to 600 (default: the timeout in seconds, rounded up, plus 1)"],
  memoryMb: [32, 65_536, "MiB, 32 to 65536 (default 512)"],
  maxOutputBytes: [1024, 64 << 20, "bytes of stdout + stderr, 1024 to 67108864 (default 1048576)"],
};

function testsOf(spec: ScorerSpec, expected: JsonValue | undefined): (string | TestCase)[] | undefined {
  const own = stringListOption(spec, "tests");
  return own !== undefined ? parseTests(own) : parseTests(expected);
}

/** The score's reason: tests passed, the first failure named, and what stopped the run. */
export function describeResult(r: SandboxResult, from: string): string {
  const total = r.testsPassed + r.testsFailed;
  const parts = [`${r.testsPassed}/${total} tests passed`];
  const first = r.failures[0];
  if (first) parts.push(`first failure ${quote(first.name, 50)}: ${first.message.length > 120 ? `${first.message.slice(0, 120)}…` : first.message}`);
  if (r.killedFor) parts.push(`killed for ${r.killedFor}`);
  parts.push(`${fmt(Math.round(r.durationMs) / 1000)} s`);
  if (from !== "tagged block") parts.push(`code from the ${from}`);
  if (r.network !== "isolated") parts.push(`network ${r.network}`);
  return parts.join("; ").replace(/\s*\n\s*/g, " ");
}

export async function scoreCode(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Promise<Score> {
  const language = spec.language;
  const tests = testsOf(spec, expected);
  if (!isLanguage(language)) return fail(`invalid scorer: language must be python or javascript`);
  if (tests === undefined) return fail("invalid scorer: no tests");
  const { code: source, from } = extractCode(output, language);
  if (source.trim() === "") return fail(`no code in the output (${from})`);
  const result = await sharedPool().execute({
    language,
    code: source,
    tests,
    timeoutMs: numberOption(spec, "timeoutMs", 10_000),
    ...(typeof spec.cpuSeconds === "number" ? { cpuSeconds: spec.cpuSeconds } : {}),
    memoryMb: numberOption(spec, "memoryMb", 512),
    maxOutputBytes: numberOption(spec, "maxOutputBytes", 1 << 20),
  });
  const total = result.testsPassed + result.testsFailed;
  const value = total > 0 ? result.testsPassed / total : 0;
  return { pass: total > 0 && result.testsFailed === 0 && result.killedFor === null, value, reason: describeResult(result, from) };
}

export const code: AsyncScorer = {
  options: { language: "string", tests: "string[]", timeoutMs: "number", cpuSeconds: "number", memoryMb: "number", maxOutputBytes: "number" },
  needsExpected: false,
  check(spec: ScorerSpec, hasExpected: boolean, expected: JsonValue | undefined): Problem[] {
    const problems: Problem[] = [];
    if (!isLanguage(spec.language)) problems.push({ field: "language", message: 'needs "language": python or javascript' });
    if (spec.tests !== undefined) {
      if (parseTests(spec.tests) === undefined) problems.push({ field: "tests", message: "needs a non-empty list of tests, each a non-empty string of code" });
    } else if (!hasExpected) {
      problems.push({ field: "expected", message: 'code scorer needs tests: a "tests" option, or the task\'s expected as a list of tests' });
    } else if (expected !== undefined && parseTests(expected) === undefined) {
      problems.push({ field: "expected", message: "code scorer needs a non-empty list of tests (strings of code, or {name, code} objects) as the expected answer" });
    }
    for (const [name, [min, max, what]] of Object.entries(RANGES)) {
      const v = spec[name];
      if (typeof v === "number" && (v < min || v > max)) problems.push({ field: name, message: `${name} is in ${what}` });
    }
    return problems;
  },
  score: () => fail("the code scorer runs asynchronously: score through scoreOutputAsync"),
  scoreAsync: scoreCode,
};
