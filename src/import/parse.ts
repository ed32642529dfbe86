import { HeldoutError } from "../core/errors.js";
import { isRecord, describe } from "../core/config-doc.js";
import type { JsonValue } from "../core/types.js";
import { parseCsv } from "./csv.js";

/**
 * Turning a log into raw items: {input, expected?, area?, line}. One parser per format; pure (the
 * caller reads the file). Every malformed record is a problem naming the file and the line; the
 * import stops on any, so a half-read log never becomes a suite.
 */

export const IMPORT_FORMATS = ["jsonl", "csv", "openai-chat", "ollama-log"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export const MAP_KEYS = ["input", "expected", "area"] as const;
export type MapKey = (typeof MAP_KEYS)[number];

/** Dotted paths per field (`request.messages.0.content`); null: the field is not read at all. */
export type FieldMap = Partial<Record<MapKey, string | null>>;

export interface RawItem {
  /** 1-based line of the source file (for CSV, the line the record starts on). */
  line: number;
  /** Undefined when the record has no input at all (counted and dropped later). */
  input?: string;
  expected?: JsonValue;
  area?: string;
  /**
   * Chat formats: the conversation without its system messages, which near-duplicate detection
   * compares instead of the whole input (one system prompt on every request would otherwise make
   * every request a near duplicate of every other).
   */
  compareText?: string;
}

export interface ParseOptions {
  format: ImportFormat;
  /** The file name used in messages. */
  file: string;
  map: FieldMap;
  /** openai-chat and ollama-log: the assistant reply becomes `expected`, or is dropped. */
  reply: "expected" | "drop";
  delimiter: string;
}

export interface ParseResult {
  items: RawItem[];
  /** Records read (JSON lines, CSV rows after the header); blank lines are not records. */
  records: number;
  /** ollama-log: server log lines (not `{`-led) skipped as not being request bodies. */
  logLinesSkipped: number;
  /** Message parts that are not text (images, audio) left out of a rendered prompt. */
  nonTextParts: number;
  /** Fields that the map names and that exist in no record at all (a likely typo). */
  mapFieldsNeverFound: MapKey[];
}

/** The paths a format reads when `--map` does not name them. Chat formats derive input and expected. */
export function defaultMap(format: ImportFormat): FieldMap {
  return format === "jsonl" || format === "csv" ? { input: "input", expected: "expected", area: "area" } : { area: null };
}

/** `input=request.prompt,expected=response.text,area=` → a map; an empty path means "not read". */
export function parseMap(text: string): FieldMap {
  const map: FieldMap = {};
  for (const part of text.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq < 0) throw new HeldoutError("invalid-option", `takes field=path pairs separated by commas (input=..., expected=..., area=...), got "${part}"`, { field: "--map" });
    const key = part.slice(0, eq).trim();
    const path = part.slice(eq + 1).trim();
    if (!(MAP_KEYS as readonly string[]).includes(key)) throw new HeldoutError("invalid-option", `unknown field "${key}"; known: ${MAP_KEYS.join(", ")}`, { field: "--map" });
    if (Object.hasOwn(map, key)) throw new HeldoutError("invalid-option", `names "${key}" twice`, { field: "--map" });
    map[key as MapKey] = path === "" ? null : path;
  }
  return map;
}

/**
 * The value at a dotted path. Array elements by index (`messages.0`, `messages.-1` for the last).
 * A key that itself holds dots (`"meta.team"`, a CSV header) is found too: at each level the
 * longest matching key wins.
 */
export function getPath(value: unknown, path: string): unknown {
  return walk(value, path === "" ? [] : path.split("."));
}

function walk(value: unknown, parts: string[]): unknown {
  if (parts.length === 0) return value;
  const head = parts[0] ?? "";
  if (Array.isArray(value)) {
    if (!/^-?\d+$/.test(head)) return undefined;
    const i = Number(head);
    return walk(value[i < 0 ? value.length + i : i], parts.slice(1));
  }
  if (isRecord(value)) {
    for (let n = parts.length; n >= 1; n--) {
      const key = parts.slice(0, n).join(".");
      if (Object.hasOwn(value, key)) {
        const found = walk(value[key], parts.slice(n));
        if (found !== undefined) return found;
      }
    }
  }
  return undefined;
}

class Collector {
  readonly problems: HeldoutError[] = [];
  constructor(readonly file: string) {}
  add(line: number, message: string, field?: string): void {
    this.problems.push(new HeldoutError("invalid-import", message, { file: this.file, line, field }));
  }
}

interface Counters {
  nonTextParts: number;
  found: Set<MapKey>;
}

/** Reads every record of a log. Throws nothing: problems come back for the caller to report together. */
export function parseLog(text: string, opts: ParseOptions): ParseResult & { problems: HeldoutError[] } {
  const problems = new Collector(opts.file);
  const counters: Counters = { nonTextParts: 0, found: new Set() };
  const map: FieldMap = { ...defaultMap(opts.format), ...opts.map };
  const items: RawItem[] = [];
  let records = 0;
  let logLinesSkipped = 0;

  if (opts.format === "csv") {
    const csv = parseCsv(text, opts.delimiter);
    for (const p of csv.problems) problems.add(p.line, `malformed CSV: ${p.message}`);
    const [header, ...rows] = csv.records;
    if (!header) return { items, records, logLinesSkipped, nonTextParts: 0, mapFieldsNeverFound: [], problems: problems.problems };
    const names = header.fields.map((f) => f.trim());
    const seen = new Map<string, number>();
    names.forEach((name, i) => {
      if (name === "") problems.add(header.line, `the header's column ${i + 1} has no name`);
      else if (seen.has(name)) problems.add(header.line, `the header names column "${name}" twice (columns ${(seen.get(name) ?? 0) + 1} and ${i + 1})`);
      else seen.set(name, i);
    });
    for (const row of rows) {
      records++;
      if (row.fields.length !== names.length) {
        problems.add(row.line, `malformed CSV: ${row.fields.length} fields, the header has ${names.length}`);
        continue;
      }
      const obj: Record<string, string> = {};
      names.forEach((name, i) => {
        obj[name] = row.fields[i] ?? "";
      });
      const item = mappedItem(obj, row.line, map, problems, counters);
      if (item) items.push(item);
    }
  } else {
    const lines = text.split("\n");
    lines.forEach((raw, index) => {
      const line = index + 1;
      const body = (index === 0 ? raw.replace(/^\uFEFF/, "") : raw).replace(/\r$/, "");
      if (body.trim() === "") return;
      if (opts.format === "ollama-log" && !body.trimStart().startsWith("{")) {
        // Ollama's own server log (`time=... level=INFO ...`, `[GIN] ... | POST "/api/chat"`) holds
        // no request bodies: those lines are counted and skipped, never guessed at.
        logLinesSkipped++;
        return;
      }
      records++;
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch (e) {
        problems.add(line, `malformed line: not valid JSON (${jsonErrorMessage(e)})`);
        return;
      }
      if (!isRecord(value)) {
        problems.add(line, `malformed line: expected a JSON object, got ${describe(value)}`);
        return;
      }
      const item =
        opts.format === "jsonl"
          ? mappedItem(value, line, map, problems, counters)
          : opts.format === "openai-chat"
            ? openAiItem(value, line, map, opts.reply, problems, counters)
            : ollamaItem(value, line, map, opts.reply, problems, counters);
      if (item) items.push(item);
    });
  }
  const mapFieldsNeverFound = records > 0 ? MAP_KEYS.filter((k) => typeof map[k] === "string" && !counters.found.has(k)) : [];
  return { items, records, logLinesSkipped, nonTextParts: counters.nonTextParts, mapFieldsNeverFound, problems: problems.problems };
}

/** V8's message may quote the line ("…, "{"a": 1…" is not valid JSON"): keep the reason, not the (possibly secret) text. */
function jsonErrorMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/, ".*" is not valid JSON$/s, "").replace(/^(.{0,160}).*$/s, "$1");
}

/** A record mapped field by field (jsonl, csv, and the `--map` overrides of the chat formats). */
function mappedItem(obj: Record<string, unknown>, line: number, map: FieldMap, problems: Collector, counters: Counters, base: RawItem = { line }): RawItem | undefined {
  const item: RawItem = { ...base };
  let ok = true;
  if (typeof map.input === "string") {
    const v = getPath(obj, map.input);
    if (v !== undefined && v !== null) counters.found.add("input");
    const text = inputText(v, counters);
    delete item.compareText;
    if (text === false) {
      problems.add(line, `the input (${map.input}) must be text or a list of chat messages, got ${describe(v)}`, map.input);
      ok = false;
    } else if (text !== undefined) item.input = text;
    else delete item.input;
  }
  if (typeof map.expected === "string") {
    const v = getPath(obj, map.expected);
    // An empty answer (an empty CSV cell, "") is no answer: no task is meant to expect empty output.
    if (v !== undefined && v !== null && !(typeof v === "string" && v.trim() === "")) {
      counters.found.add("expected");
      item.expected = v as JsonValue;
    } else delete item.expected;
  }
  if (typeof map.area === "string") {
    const v = getPath(obj, map.area);
    if (v !== undefined && v !== null) counters.found.add("area");
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
      const area = String(v).trim();
      if (area !== "") item.area = area;
    } else if (v !== undefined && v !== null) {
      problems.add(line, `the area (${map.area}) must be text, got ${describe(v)}`, map.area);
      ok = false;
    }
  }
  return ok ? item : undefined;
}

/** Text, a number, or a chat message list rendered as text; undefined when absent; false when unusable. */
function inputText(v: unknown, counters: Counters): string | undefined | false {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v) && v.every((m) => isRecord(m) && typeof m.role === "string")) return renderChat(v as Record<string, unknown>[], counters);
  return false;
}

/** A message's text: a string, or the text parts of a content list (other parts are counted, not kept). */
function messageText(content: unknown, counters: { nonTextParts: number }): string | undefined {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    const texts: string[] = [];
    for (const part of content) {
      if (typeof part === "string") texts.push(part);
      else if (isRecord(part) && typeof part.text === "string") texts.push(part.text);
      else counters.nonTextParts++;
    }
    return texts.length ? texts.join("\n") : undefined;
  }
  return undefined;
}

/**
 * The prompt of a conversation as one text: a lone user message is its own text; anything longer
 * is every message as `Role: text`, separated by blank lines (the suite sends it as one user turn).
 */
export function renderChat(messages: readonly Record<string, unknown>[], counters: { nonTextParts: number } = { nonTextParts: 0 }): string | undefined {
  const turns: { role: string; text: string }[] = [];
  for (const m of messages) {
    const text = messageText(m.content, counters);
    if (text === undefined) continue;
    turns.push({ role: String(m.role), text });
  }
  if (turns.length === 0) return undefined;
  if (turns.length === 1 && turns[0]?.role === "user") return turns[0].text;
  return turns.map((t) => `${t.role.charAt(0).toUpperCase()}${t.role.slice(1)}: ${t.text}`).join("\n\n");
}

function checkMessages(messages: unknown, line: number, field: string, problems: Collector): messages is Record<string, unknown>[] {
  if (!Array.isArray(messages)) {
    problems.add(line, `"${field}" must be a list of messages, got ${describe(messages)}`, field);
    return false;
  }
  const bad = messages.findIndex((m) => !isRecord(m) || typeof m.role !== "string");
  if (bad >= 0) {
    problems.add(line, `each message needs a "role" (a string), got ${describe(messages[bad])}`, `${field}.${bad}`);
    return false;
  }
  return true;
}

/** Splits a conversation into its prompt and its reply: the reply given apart, or a trailing assistant message. */
function promptAndReply(
  messages: Record<string, unknown>[],
  givenReply: string | undefined,
  reply: "expected" | "drop",
  counters: Counters,
): { input?: string; expected?: string; compareText?: string } {
  let prompt = messages;
  let answer = givenReply;
  if (answer === undefined && messages.length > 1 && messages[messages.length - 1]?.role === "assistant") {
    answer = messageText(messages[messages.length - 1]?.content, counters);
    prompt = messages.slice(0, -1);
  }
  const out: { input?: string; expected?: string; compareText?: string } = {};
  const input = renderChat(prompt, counters);
  if (input !== undefined) out.input = input;
  if (prompt.some((m) => m.role === "system")) {
    const rest = renderChat(
      prompt.filter((m) => m.role !== "system"),
      { nonTextParts: 0 },
    );
    if (rest !== undefined) out.compareText = rest;
  }
  if (reply === "expected" && answer !== undefined && answer.trim() !== "") out.expected = answer;
  return out;
}

/**
 * OpenAI chat-completions logs: `{request: {model, messages}, response: {choices: [{message}]}}`,
 * the Batch API's `{body: {...}}` / `{response: {body: {...}}}`, or a bare `{messages: [...]}`
 * whose last assistant message is the reply.
 */
function openAiItem(obj: Record<string, unknown>, line: number, map: FieldMap, reply: "expected" | "drop", problems: Collector, counters: Counters): RawItem | undefined {
  const request = isRecord(obj.request) ? obj.request : isRecord(obj.body) ? obj.body : obj;
  const field = request === obj ? "messages" : request === obj.request ? "request.messages" : "body.messages";
  let base: RawItem = { line };
  if (request.messages !== undefined) {
    if (!checkMessages(request.messages, line, field, problems)) return undefined;
    let response: unknown = obj.response;
    if (isRecord(response) && isRecord(response.body)) response = response.body;
    const given = isRecord(response) ? messageText(getPath(response, "choices.0.message.content"), counters) : undefined;
    base = { line, ...promptAndReply(request.messages, given, reply, counters) };
  }
  return withOverrides(obj, line, map, problems, counters, base);
}

/**
 * Ollama request dumps: `/api/chat` bodies `{model, messages}` and `/api/generate` bodies
 * `{model, prompt, system?}`, bare or as `{request, response}`; a reply from `response.message.content`
 * (chat), `response` as a string or `response.response` (generate), or a trailing assistant message.
 */
function ollamaItem(obj: Record<string, unknown>, line: number, map: FieldMap, reply: "expected" | "drop", problems: Collector, counters: Counters): RawItem | undefined {
  const request = isRecord(obj.request) ? obj.request : obj;
  const prefix = request === obj ? "" : "request.";
  const response = obj.response;
  const given =
    typeof response === "string"
      ? response
      : isRecord(response)
        ? (messageText(getPath(response, "message.content"), counters) ?? (typeof response.response === "string" ? response.response : undefined))
        : undefined;
  let base: RawItem = { line };
  if (request.messages !== undefined) {
    if (!checkMessages(request.messages, line, `${prefix}messages`, problems)) return undefined;
    base = { line, ...promptAndReply(request.messages, given, reply, counters) };
  } else if (request.prompt !== undefined) {
    if (typeof request.prompt !== "string") {
      problems.add(line, `"prompt" must be a string, got ${describe(request.prompt)}`, `${prefix}prompt`);
      return undefined;
    }
    const messages: Record<string, unknown>[] = [];
    if (typeof request.system === "string" && request.system.trim() !== "") messages.push({ role: "system", content: request.system });
    messages.push({ role: "user", content: request.prompt });
    base = { line, ...promptAndReply(messages, given, reply, counters) };
  }
  return withOverrides(obj, line, map, problems, counters, base);
}

function withOverrides(obj: Record<string, unknown>, line: number, map: FieldMap, problems: Collector, counters: Counters, base: RawItem): RawItem | undefined {
  if (base.input !== undefined) counters.found.add("input");
  if (base.expected !== undefined) counters.found.add("expected");
  return mappedItem(obj, line, map, problems, counters, base);
}
