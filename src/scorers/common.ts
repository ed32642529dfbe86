/**
 * What every scorer family shares: the implementation contract, option type checks, and the small
 * helpers that keep reasons short and uniform.
 */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";

export interface Problem {
  field: string;
  message: string;
}

/** The JSON shape an option must have. Checked generically so each scorer only checks meaning. */
export type OptionKind = "boolean" | "string" | "number" | "string[]" | "object";

export interface Scorer {
  /** Every option this scorer reads; any other key in a spec is reported, since it is usually a typo. */
  readonly options: Readonly<Record<string, OptionKind>>;
  /** Whether tasks must carry `expected`; checked by the caller so the message is the same everywhere. */
  readonly needsExpected: boolean;
  /**
   * Checks that need the scorer's own knowledge (a regex compiles, expected is numeric...). Runs only
   * once the options have the right JSON types, so it may read them with the typed getters below.
   * `expected` is only looked at when it is given.
   */
  check(spec: ScorerSpec, hasExpected: boolean, expected: JsonValue | undefined): Problem[];
  /** Runs on a spec that passed validation. Must not throw. */
  score(spec: ScorerSpec, output: string, expected: JsonValue | undefined): Score;
}

export function pass(reason: string, value = 1): Score {
  return { pass: true, value, reason };
}

export function fail(reason: string, value = 0): Score {
  return { pass: false, value, reason };
}

/** Quoted, escaped and shortened so one long generation cannot flood a report line. */
export function quote(text: string, max = 60): string {
  const short = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(short);
}

/** Numbers for reasons: drops binary noise such as 0.30000000000000004. */
export function fmt(n: number): string {
  return String(Number(n.toPrecision(12)));
}

export type Scalar = string | number | boolean;

export function isScalar(value: JsonValue | undefined): value is Scalar {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

export function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kindOf(value: JsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function hasKind(value: JsonValue, kind: OptionKind): boolean {
  switch (kind) {
    case "boolean":
    case "string":
      return typeof value === kind;
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string[]":
      return Array.isArray(value) && value.every((v) => typeof v === "string");
    case "object":
      return isObject(value);
  }
}

const KIND_NAMES: Record<OptionKind, string> = {
  boolean: "true or false",
  string: "a string",
  number: "a number",
  "string[]": "a list of strings",
  object: "an object",
};

/** Unknown option names and options of the wrong JSON type, one problem each. */
export function checkOptions(spec: ScorerSpec, type: string, options: Readonly<Record<string, OptionKind>>): Problem[] {
  const problems: Problem[] = [];
  const allowed = Object.keys(options);
  for (const [name, value] of Object.entries(spec)) {
    if (name === "type" || value === undefined) continue;
    const kind = Object.hasOwn(options, name) ? options[name] : undefined;
    if (kind === undefined) {
      const known = allowed.length > 0 ? `allowed: ${allowed.join(", ")}` : "it takes no options";
      problems.push({ field: name, message: `unknown option "${name}" for scorer "${type}"; ${known}` });
    } else if (!hasKind(value, kind)) {
      problems.push({ field: name, message: `option "${name}" must be ${KIND_NAMES[kind]}, got ${kindOf(value)}` });
    }
  }
  return problems;
}

/* Typed getters. Validation has already rejected wrong types; falling back keeps scoring total anyway. */

export function boolOption(spec: ScorerSpec, name: string, fallback: boolean): boolean {
  const v = spec[name];
  return typeof v === "boolean" ? v : fallback;
}

export function numberOption(spec: ScorerSpec, name: string, fallback: number): number {
  const v = spec[name];
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

export function stringOption(spec: ScorerSpec, name: string): string | undefined {
  const v = spec[name];
  return typeof v === "string" ? v : undefined;
}

export function stringListOption(spec: ScorerSpec, name: string): string[] | undefined {
  const v = spec[name];
  return Array.isArray(v) && v.every((x): x is string => typeof x === "string") ? v : undefined;
}

/** A problem for an `expected` value of the wrong shape, worded the same by every scorer. */
export function expectedProblem(type: string, needs: string): Problem {
  return { field: "expected", message: `${type} scorer needs ${needs} as the expected answer` };
}

/** Escapes text for use inside a RegExp source. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
