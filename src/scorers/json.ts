/**
 * `json`: finds a JSON value in the output and checks it against a schema, against chosen fields of
 * the expected answer, or against the whole expected answer. Each check earns an equal share of the
 * value, so an answer with the right shape but one wrong field still scores above zero.
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { fail, isObject, pass, stringListOption, type Problem, type Scorer } from "./common.js";
import { checkSchema, deepEqual, show, validateValue } from "./schema.js";

function tryParse(text: string): { value: JsonValue } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return { value: value as JsonValue };
  } catch {
    return undefined;
  }
}

/**
 * Caps on the bracket scan, which restarts at every "{" or "[" and so is quadratic: an output full
 * of unmatched braces must still score in milliseconds. Real answers are found long before either.
 */
const MAX_CANDIDATES = 500;
const MAX_SCANNED_CHARS = 2_000_000;

/**
 * End index (exclusive) of the bracketed value opening at `start`, or -1 if it never closes cleanly
 * within `limit` characters; `scanned` is what the attempt cost.
 */
function balancedEnd(text: string, start: number, limit: number): { end: number; scanned: number } {
  const closers: string[] = [];
  let inString = false;
  const stop = Math.min(text.length, start + limit);
  for (let i = start; i < stop; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "{" || c === "[") {
      closers.push(c === "{" ? "}" : "]");
    } else if (c === "}" || c === "]") {
      if (closers.pop() !== c) return { end: -1, scanned: i + 1 - start };
      if (closers.length === 0) return { end: i + 1, scanned: i + 1 - start };
    }
  }
  return { end: -1, scanned: stop - start };
}

/** The JSON value in an output: the whole output, else a ```json fence, else the first {...} or [...] that parses. */
export function extractJson(output: string): { value: JsonValue; from: string } | undefined {
  const whole = output.trim();
  const direct = whole === "" ? undefined : tryParse(whole);
  if (direct) return { ...direct, from: "output" };
  for (const fence of output.matchAll(/```json[^\S\n]*\n?([\s\S]*?)```/gi)) {
    const parsed = tryParse((fence[1] ?? "").trim());
    if (parsed) return { ...parsed, from: "fenced block" };
  }
  let tried = 0;
  let budget = MAX_SCANNED_CHARS;
  for (let i = 0; i < output.length && tried < MAX_CANDIDATES && budget > 0; i++) {
    const c = output[i];
    if (c !== "{" && c !== "[") continue;
    tried++;
    const { end, scanned } = balancedEnd(output, i, budget);
    budget -= scanned;
    if (end < 0) continue;
    const parsed = tryParse(output.slice(i, end));
    if (parsed) return { ...parsed, from: "embedded" };
  }
  return undefined;
}

/** Dotted path lookup; a numeric segment indexes into a list ("items.0.name"). */
export function getPath(value: JsonValue, path: string): { found: true; value: JsonValue } | { found: false } {
  let cur: JsonValue = value;
  for (const seg of path.split(".")) {
    if (Array.isArray(cur) && /^\d+$/.test(seg) && Number(seg) < cur.length) {
      cur = cur[Number(seg)] as JsonValue;
    } else if (isObject(cur) && Object.hasOwn(cur, seg)) {
      cur = cur[seg] as JsonValue;
    } else {
      return { found: false };
    }
  }
  return { found: true, value: cur };
}

interface Check {
  ok: boolean;
  /** What went wrong, shown only when `ok` is false. */
  why: string;
}

export const json: Scorer = {
  options: { schema: "object", fields: "string[]" },
  needsExpected: false,
  check(spec, hasExpected, expected): Problem[] {
    const problems: Problem[] = [];
    const schema = spec.schema;
    if (schema !== undefined) {
      for (const message of checkSchema(schema)) problems.push({ field: "schema", message });
    }
    const fields = stringListOption(spec, "fields");
    if (fields !== undefined) {
      if (fields.length === 0) problems.push({ field: "fields", message: "fields must list at least one dotted path" });
      const bad = fields.filter((f) => f === "" || f.split(".").some((s) => s === ""));
      if (bad.length > 0) problems.push({ field: "fields", message: `malformed path ${bad.map((b) => `"${b}"`).join(", ")}` });
      if (!hasExpected) {
        problems.push({ field: "expected", message: "json scorer with fields needs an expected answer" });
      } else if (expected !== undefined) {
        const absent = fields.filter((f) => !getPath(expected, f).found);
        if (absent.length > 0) {
          problems.push({ field: "fields", message: `not in the expected answer: ${absent.join(", ")}` });
        }
      }
    }
    return problems;
  },
  score(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Score {
    const found = extractJson(output);
    if (!found) return fail(output.trim() === "" ? "empty output, no JSON" : "no JSON found in output");
    const value = found.value;
    const checks: Check[] = [];
    if (isObject(spec.schema)) {
      const errors = validateValue(spec.schema, value);
      const more = errors.length > 2 ? ` (+${errors.length - 2} more)` : "";
      checks.push({ ok: errors.length === 0, why: `schema: ${errors.slice(0, 2).join("; ")}${more}` });
    }
    const fields = stringListOption(spec, "fields");
    if (fields !== undefined && fields.length > 0 && expected !== undefined) {
      for (const f of fields) {
        const want = getPath(expected, f);
        const got = getPath(value, f);
        if (!got.found) checks.push({ ok: false, why: `${f}: missing` });
        else if (!want.found) checks.push({ ok: false, why: `${f}: not in expected answer` });
        else checks.push({ ok: deepEqual(got.value, want.value), why: `${f}: expected ${show(want.value)}, got ${show(got.value)}` });
      }
    } else if (spec.schema === undefined && expected !== undefined) {
      checks.push({ ok: deepEqual(value, expected), why: `expected ${show(expected)}, got ${show(value)}` });
    }
    if (checks.length === 0) return pass(`valid JSON (${found.from})`);
    const failed = checks.filter((c) => !c.ok);
    const share = (checks.length - failed.length) / checks.length;
    if (failed.length === 0) return pass(checks.length === 1 ? "JSON matches" : `all ${checks.length} JSON checks pass`);
    const tally = checks.length > 1 ? ` (${checks.length - failed.length} of ${checks.length} checks pass)` : "";
    const shown = failed.slice(0, 3).map((c) => c.why).join("; ");
    return fail(`${shown}${tally}`, share);
  },
};
