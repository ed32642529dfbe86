import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import { HeldoutError, HeldoutErrors, type ErrorLocation } from "./errors.js";

/**
 * A parsed YAML/JSON configuration file that still knows where each field came from, so every
 * complaint about its content can name the file, the line and the field.
 */
export interface ConfigDoc {
  file: string;
  value: unknown;
  /** 1-based line of the field at `path` (or of its closest existing parent). */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

export function parseConfig(file: string, text: string): ConfigDoc {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new HeldoutErrors(
      doc.errors.map((e) => new HeldoutError("config-syntax", e.message.split("\n")[0] ?? e.message, { file, line: e.linePos?.[0].line ?? lineCounter.linePos(e.pos[0]).line })),
    );
  }
  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return lineCounter.linePos(range[0]).line;
      if (n > 0 && (isMap(node) || isSeq(node))) continue;
    }
    return undefined;
  };
  return { file, value: doc.toJS(), lineOf };
}

/** Collects problems about one document so they are all reported together. */
export class Problems {
  readonly list: HeldoutError[] = [];
  constructor(private readonly code: string) {}

  add(message: string, where: ErrorLocation): void {
    this.list.push(new HeldoutError(this.code, message, where));
  }

  throwIfAny(): void {
    if (this.list.length === 1) throw this.list[0];
    if (this.list.length > 1) throw new HeldoutErrors(this.list);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Reads typed fields from one object of a document and reports wrong types and unknown keys
 * with the exact line and dotted field name.
 */
export class FieldReader {
  constructor(
    private readonly doc: ConfigDoc,
    private readonly obj: Record<string, unknown>,
    private readonly path: (string | number)[],
    private readonly problems: Problems,
  ) {}

  where(key?: string): ErrorLocation {
    // A key may be dotted ("scorer.pattern"): look its line up by its parts, name it whole.
    const path = key === undefined ? this.path : [...this.path, ...key.split(".")];
    return { file: this.doc.file, line: this.doc.lineOf(path), field: path.join(".") || undefined };
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  raw(key: string): unknown {
    return this.obj[key];
  }

  fail(key: string | undefined, message: string): void {
    this.problems.add(message, this.where(key));
  }

  string(key: string, fallback?: string): string | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) this.fail(key, "is required");
      return fallback;
    }
    if (typeof v !== "string") {
      this.fail(key, `must be a string, got ${describe(v)}`);
      return fallback;
    }
    return v;
  }

  number(key: string, fallback: number | undefined, check?: { min?: number; max?: number; integer?: boolean }): number | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) this.fail(key, "is required");
      return fallback;
    }
    if (typeof v !== "number" || !Number.isFinite(v)) {
      this.fail(key, `must be a number, got ${describe(v)}`);
      return fallback;
    }
    if (check?.integer && !Number.isInteger(v)) this.fail(key, `must be a whole number, got ${v}`);
    else if (check?.min !== undefined && v < check.min) this.fail(key, `must be at least ${check.min}, got ${v}`);
    else if (check?.max !== undefined && v > check.max) this.fail(key, `must be at most ${check.max}, got ${v}`);
    else return v;
    return fallback;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") {
      this.fail(key, `must be true or false, got ${describe(v)}`);
      return fallback;
    }
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      this.fail(key, `must be one of ${allowed.join(", ")}, got ${describe(v)}`);
      return fallback;
    }
    return v as T;
  }

  stringList(key: string, fallback: string[]): string[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    const list = typeof v === "string" ? [v] : v;
    if (!Array.isArray(list) || list.some((x) => typeof x !== "string")) {
      this.fail(key, `must be a list of strings, got ${describe(v)}`);
      return fallback;
    }
    return list as string[];
  }

  child(key: string): FieldReader | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (!isRecord(v)) {
      this.fail(key, `must be a mapping of fields, got ${describe(v)}`);
      return undefined;
    }
    return new FieldReader(this.doc, v, [...this.path, key], this.problems);
  }

  /**
   * A sweepable field: one value, or a list of values to sweep over. Each value is checked by
   * `read` and located by its own line (field `sampling.temperature.1` for the second).
   */
  axis<T>(key: string, read: (r: FieldReader, key: string) => T | undefined, fallback: T): T[] {
    const v = this.obj[key];
    if (!Array.isArray(v)) return [read(this, key) ?? fallback];
    if (v.length === 0) {
      this.fail(key, "an empty list sweeps over nothing; give one value or a list of values");
      return [fallback];
    }
    const element = new FieldReader(this.doc, Object.fromEntries(v.map((x, i) => [String(i), x as unknown])), [...this.path, key], this.problems);
    return v.map((_, i) => read(element, String(i)) ?? fallback);
  }

  /** Reports every key not in `known`: a typo must not silently fall back to a default. */
  rejectUnknown(known: readonly string[]): void {
    for (const key of Object.keys(this.obj)) {
      if (!known.includes(key)) this.fail(key, `unknown field; known fields: ${known.join(", ")}`);
    }
  }
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return String(v);
}
