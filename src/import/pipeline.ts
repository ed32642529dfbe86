import { stringify } from "yaml";
import { canonicalJson } from "../core/canonical.js";
import { HeldoutError, HeldoutErrors } from "../core/errors.js";
import { parseSuite } from "../core/suite.js";
import type { JsonValue, ScorerSpec, Suite } from "../core/types.js";
import { validateScorer } from "../scorers/index.js";
import { exactDuplicates, nearDuplicates, normaliseText } from "./dedupe.js";
import { defaultMap, parseLog, type FieldMap, type ImportFormat, type RawItem } from "./parse.js";
import { stratifiedSample, type Allocation } from "./sample.js";
import { emptyCounts, Scrubber, SCRUB_KINDS, type ScrubKind } from "./scrub.js";

/**
 * `heldout import`'s steps, from a log's text to a suite's files, each step counted:
 * parse → drop empty inputs → exact duplicates → near duplicates → scrub → drop items without an
 * expected answer (unless kept) → stratified sample → suite.yaml, tasks.jsonl and provenance.
 * Pure: the caller reads the log and writes the result (src/import/write.ts).
 */

export interface ImportOptions {
  format: ImportFormat;
  /** The log's name in messages. */
  file: string;
  map: FieldMap;
  reply: "expected" | "drop";
  delimiter: string;
  nearThreshold: number;
  shingleSize: number;
  /** Kinds to scrub; empty: scrubbing is off (`--no-scrub`). */
  scrub: readonly ScrubKind[];
  /** Stratified sample size; undefined keeps every item. */
  sample?: number;
  seed: number;
  /** Items without an expected answer: dropped (counted), or kept without `expected`. */
  unanswered: "drop" | "keep";
  /**
   * The judge that grades kept items without an expected answer (the `judge` scorer): each such
   * task gets it as its own scorer, or the suite does when no task has an expected answer.
   */
  judge?: { model: string; rubric: string };
  name: string;
  scorer: ScorerSpec;
  maxTokens: number;
  /** The suite folder the files are meant for (named in messages). */
  outDir: string;
}

export interface SourceInfo {
  path: string;
  sha256: string;
  bytes: number;
}

export interface ImportCounts {
  records: number;
  /** ollama-log: server log lines that are not request bodies. */
  logLinesSkipped: number;
  malformed: number;
  nonTextParts: number;
  emptyInput: number;
  exactDuplicates: number;
  /** Exact duplicates whose expected answer differed from the kept item's. */
  exactDuplicatesWithOtherExpected: number;
  nearDuplicates: number;
  afterDedupe: number;
  /** null when scrubbing is off. */
  scrubbed: { replaced: Record<ScrubKind, number>; distinct: Record<ScrubKind, number>; items: number } | null;
  withoutExpected: number;
  withoutExpectedDropped: number;
  /** Items per area before sampling ("" when the log has no areas). */
  areasBefore: Record<string, number>;
  areasAfter: Record<string, number>;
  /** Replacements per kind in the tasks written (a sample holds fewer than the whole log). */
  scrubbedInSuite: Record<ScrubKind, number>;
  tasks: number;
}

export interface DuplicateRecord {
  line: number;
  keptLine: number;
  similarity?: number;
}

export interface ImportResult {
  counts: ImportCounts;
  duplicates: { exact: DuplicateRecord[]; near: DuplicateRecord[] };
  allocation?: Allocation;
  suite: Suite;
  suiteYaml: string;
  tasksJsonl: string;
  warnings: string[];
  /** The areas were read from the log (else the tasks have none). */
  hasAreas: boolean;
  /** Near duplicates compared conversations without their system messages. */
  systemLeftOut: boolean;
}

/** Shown to a reader of a suite that has tasks without an expected answer. */
export const UNANSWERED_NOTE = "they need a judge scorer or a people rubric to be graded";
/** The judge's rubric when none is given. */
export const DEFAULT_RUBRIC = "A good answer does what the request asks: it is correct, complete, and no longer than it needs to be.";
export const UNASSIGNED_AREA = "unassigned";
const MAX_LISTED_PROBLEMS = 20;

interface Item extends RawItem {
  input: string;
  scrubbed: Record<ScrubKind, number>;
}

export function importLog(text: string, opts: ImportOptions): ImportResult {
  const warnings: string[] = [];
  const parsed = parseLog(text, { format: opts.format, file: opts.file, map: opts.map, reply: opts.reply, delimiter: opts.delimiter });
  if (parsed.problems.length > 0) {
    const listed = parsed.problems.slice(0, MAX_LISTED_PROBLEMS);
    const more = parsed.problems.length - listed.length;
    throw new HeldoutErrors([
      ...listed,
      new HeldoutError(
        "invalid-import",
        `${parsed.problems.length} malformed record(s)${more > 0 ? ` (${more} more not listed)` : ""}; nothing was written: fix or remove ${parsed.problems.length === 1 ? "it" : "them"} and import again`,
        { file: opts.file },
      ),
    ]);
  }
  const map: FieldMap = { ...defaultMap(opts.format), ...opts.map };
  if (parsed.records === 0) throw new HeldoutError("invalid-import", `no records in the file`, { file: opts.file });
  if (parsed.mapFieldsNeverFound.includes("input"))
    throw new HeldoutError("invalid-import", `no record has the input field "${map.input}": name it with --map input=<dotted.path>`, { file: opts.file, field: "--map" });
  for (const k of parsed.mapFieldsNeverFound) warnings.push(`no record has the ${k} field "${map[k]}" (--map ${k}=...): ${k === "expected" ? "no task has an expected answer" : "the tasks have no areas"}`);
  if (parsed.nonTextParts > 0) warnings.push(`${parsed.nonTextParts} message part(s) that are not text (images, audio, files) were left out of the prompts`);

  // Empty inputs.
  const withInput = parsed.items.filter((i): i is RawItem & { input: string } => i.input !== undefined && i.input.trim() !== "");
  const emptyInput = parsed.items.length - withInput.length;

  // Exact duplicates on the normalised input (the prompt is what a model sees).
  const normalised = withInput.map((i) => normaliseText(i.input));
  const exact = exactDuplicates(normalised);
  const exactRecords: DuplicateRecord[] = exact.removed.map((d) => ({ line: withInput[d.index]?.line ?? 0, keptLine: withInput[d.keptIndex]?.line ?? 0 }));
  const exactDuplicatesWithOtherExpected = exact.removed.filter((d) => canonicalJson(withInput[d.index]?.expected ?? null) !== canonicalJson(withInput[d.keptIndex]?.expected ?? null)).length;
  const unique = exact.kept.map((i) => withInput[i] as RawItem & { input: string });
  const uniqueTexts = exact.kept.map((i) => {
    const compare = withInput[i]?.compareText;
    return compare !== undefined ? normaliseText(compare) : (normalised[i] as string);
  });
  const systemLeftOut = unique.some((i) => i.compareText !== undefined);

  // Near duplicates.
  const near = nearDuplicates(uniqueTexts, opts.nearThreshold, opts.shingleSize);
  const nearRecords: DuplicateRecord[] = near.removed.map((d) => ({ line: unique[d.index]?.line ?? 0, keptLine: unique[d.keptIndex]?.line ?? 0, similarity: Math.round(d.similarity * 1e4) / 1e4 }));
  const deduped = near.kept.map((i) => unique[i] as RawItem & { input: string });

  // Scrub, numbering placeholders across the whole log.
  const scrubber = opts.scrub.length > 0 ? new Scrubber(opts.scrub) : undefined;
  let scrubbedItems = 0;
  const items: Item[] = deduped.map((raw) => {
    const counts = emptyCounts();
    const item: Item = { ...raw, scrubbed: counts };
    delete item.compareText;
    if (scrubber) {
      item.input = scrubber.scrub(raw.input, counts);
      if (raw.expected !== undefined) item.expected = scrubJson(raw.expected, (s) => scrubber.scrub(s, counts));
      if (SCRUB_KINDS.some((k) => counts[k] > 0)) scrubbedItems++;
    }
    return item;
  });

  // Items without an expected answer.
  const withoutExpected = items.filter((i) => i.expected === undefined).length;
  const answered = opts.unanswered === "drop" ? items.filter((i) => i.expected !== undefined) : items;
  if (answered.length === 0) {
    const why =
      items.length === 0
        ? "no item is left after removing empty inputs and duplicates"
        : `none of the ${items.length} items has an expected answer, and items without one are dropped (--unanswered drop): ${opts.format === "openai-chat" || opts.format === "ollama-log" ? (opts.reply === "drop" ? "--reply drop removed the replies; " : "") : `map the answer with --map expected=<path>, or `}keep them to be graded by a judge with --judge-model <manifest or .gguf> (and --rubric <text>)`;
    throw new HeldoutError("invalid-import", `nothing to import: ${why}`, { file: opts.file });
  }
  if (opts.unanswered === "keep" && withoutExpected > 0 && !opts.judge) {
    const needs = validateScorer(opts.scorer, false).some((p) => p.field === "expected");
    if (needs)
      throw new HeldoutError(
        "invalid-import",
        `${withoutExpected} item(s) have no expected answer, and the ${opts.scorer.type} scorer needs one: ${UNANSWERED_NOTE}. Give the judge with --judge-model <manifest or .gguf> (and --rubric <text>), drop them with --unanswered drop, or choose a --scorer that needs no expected answer`,
        { file: opts.file, field: "--unanswered" },
      );
  }

  // Areas and the stratified sample.
  const hasAreas = typeof map.area === "string" && !parsed.mapFieldsNeverFound.includes("area") && answered.some((i) => i.area !== undefined);
  const areaOf = (i: Item): string => (hasAreas ? (i.area ?? UNASSIGNED_AREA) : "");
  const tally = (list: readonly Item[]) => {
    const out: Record<string, number> = {};
    for (const i of [...list].sort((a, b) => (areaOf(a) < areaOf(b) ? -1 : areaOf(a) > areaOf(b) ? 1 : 0))) out[areaOf(i)] = (out[areaOf(i)] ?? 0) + 1;
    return out;
  };
  let chosen: Item[] = answered;
  let allocation: Allocation | undefined;
  if (opts.sample !== undefined) {
    const s = stratifiedSample(answered, areaOf, opts.sample, opts.seed);
    chosen = s.sample;
    allocation = s.allocation;
    if (allocation.tookAll) warnings.push(`--sample ${opts.sample} asks for more than the ${answered.length} items left: all were taken`);
    else if (allocation.short.length > 0)
      warnings.push(
        `area(s) with fewer items than an even share gave all they had, and the others made up the difference: ${allocation.short.map((a) => `${a} ${allocation?.areas.find((x) => x.area === a)?.available}`).join(", ")}`,
      );
  }

  // The suite.
  const width = String(Math.max(1, ...parsed.items.map((i) => i.line))).length;
  const ordered = [...chosen].sort((a, b) => (areaOf(a) < areaOf(b) ? -1 : areaOf(a) > areaOf(b) ? 1 : a.line - b.line));
  const scrubbedInSuite = emptyCounts();
  // Items without an expected answer and a judge: the suite's scorer when no task has an answer,
  // else each such task's own.
  const unansweredInSuite = ordered.filter((i) => i.expected === undefined).length;
  const judgeSpec: ScorerSpec | undefined = opts.judge && unansweredInSuite > 0 ? { type: "judge", model: opts.judge.model, rubric: opts.judge.rubric } : undefined;
  const judgeEach = unansweredInSuite < ordered.length;
  const taskLines = ordered.map((i) => {
    for (const k of SCRUB_KINDS) scrubbedInSuite[k] += i.scrubbed[k];
    const area = hasAreas ? areaOf(i) : undefined;
    const task: Record<string, JsonValue> = { id: `${(area !== undefined && slug(area)) || "task"}-${String(i.line).padStart(width, "0")}` };
    if (area !== undefined) task.area = area;
    task.vars = { input: i.input };
    if (i.expected !== undefined) task.expected = i.expected;
    else if (judgeEach && opts.judge) task.scorer = { type: "judge", model: opts.judge.model, rubric: opts.judge.rubric };
    return JSON.stringify(task);
  });
  const description =
    `Imported with heldout import; the source log, its sha256 and the counts of each step are in provenance.json.` +
    (unansweredInSuite > 0
      ? ` ${unansweredInSuite} task(s) have no expected answer: ${judgeSpec ? `the judge scorer (${judgeSpec.model}) grades ${unansweredInSuite === ordered.length ? "every task" : "them"} against its rubric` : UNANSWERED_NOTE}.`
      : "");
  const suiteScorer: ScorerSpec = judgeSpec && !judgeEach ? judgeSpec : opts.scorer;
  const definition = { name: opts.name, description, prompt: "{{input}}", scorer: Object.keys(suiteScorer).length === 1 ? suiteScorer.type : suiteScorer, maxTokens: opts.maxTokens, chatTemplate: "auto" };
  const suiteYaml = stringify(definition, { lineWidth: 100 });
  const tasksJsonl = `${taskLines.join("\n")}\n`;
  let suite: Suite;
  try {
    suite = parseSuite({ dir: opts.outDir, suiteFile: `${opts.outDir}/suite.yaml`, suiteText: suiteYaml, tasksFile: `${opts.outDir}/tasks.jsonl`, tasksText: tasksJsonl });
  } catch (error) {
    if (!(error instanceof HeldoutError)) throw error;
    const list = error instanceof HeldoutErrors ? error.errors : [error];
    throw new HeldoutErrors([...list, new HeldoutError("invalid-import", `the imported suite would not load (the problems above); nothing was written`, { file: opts.file })]);
  }

  return {
    counts: {
      records: parsed.records,
      logLinesSkipped: parsed.logLinesSkipped,
      malformed: 0,
      nonTextParts: parsed.nonTextParts,
      emptyInput,
      exactDuplicates: exact.removed.length,
      exactDuplicatesWithOtherExpected,
      nearDuplicates: near.removed.length,
      afterDedupe: items.length,
      scrubbed: scrubber ? { ...scrubber.stats(), items: scrubbedItems } : null,
      withoutExpected,
      withoutExpectedDropped: opts.unanswered === "drop" ? withoutExpected : 0,
      areasBefore: tally(answered),
      areasAfter: tally(chosen),
      scrubbedInSuite,
      tasks: suite.tasks.length,
    },
    duplicates: { exact: exactRecords, near: nearRecords },
    ...(allocation ? { allocation } : {}),
    suite,
    suiteYaml,
    tasksJsonl,
    warnings,
    hasAreas,
    systemLeftOut,
  };
}

/** Every string in a JSON value passed through `f`. */
function scrubJson(value: JsonValue, f: (s: string) => string): JsonValue {
  if (typeof value === "string") return f(value);
  if (Array.isArray(value)) return value.map((v) => scrubJson(v, f));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubJson(v, f)]));
  return value;
}

/** An area as part of a task id: lower-case letters, digits, `.`, `_`, `-`. */
function slug(area: string): string {
  return area
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
}

export interface ProvenanceInput {
  source: SourceInfo;
  options: ImportOptions;
  result: ImportResult;
  heldoutVersion: string;
  createdAt: Date;
}

/**
 * Where the suite came from and what each step did. Kept beside the suite (provenance.json), not
 * in suite.yaml: the suite hash covers the tasks and the definition only, so importing the same
 * tasks again (another day, another copy of the log) gives the same hash.
 */
export function makeProvenance(p: ProvenanceInput): Record<string, unknown> {
  const o = p.options;
  const chat = o.format === "openai-chat" || o.format === "ollama-log";
  return {
    provenanceVersion: 1,
    createdBy: `heldout import ${p.heldoutVersion}`,
    createdAt: p.createdAt.toISOString(),
    source: {
      path: p.source.path,
      sha256: p.source.sha256,
      bytes: p.source.bytes,
      format: o.format,
      map: { ...defaultMap(o.format), ...o.map },
      ...(chat ? { reply: o.reply } : {}),
      ...(o.format === "csv" ? { delimiter: o.delimiter } : {}),
    },
    steps: {
      exactDuplicates: "inputs equal after NFKC, case folding and collapsing whitespace; the first occurrence is kept",
      nearDuplicates: { shingleSize: o.shingleSize, threshold: o.nearThreshold, method: "Jaccard similarity of character shingle sets of the normalised input, every pair at or above the threshold (prefix-filtered, exact); the first occurrence is kept", systemMessagesLeftOut: p.result.systemLeftOut },
      scrub: o.scrub.length > 0 ? { kinds: [...o.scrub], placeholders: "<KIND_n>, one number per distinct value" } : "off (--no-scrub)",
      unanswered: o.unanswered,
      ...(o.judge ? { judge: o.judge } : {}),
      sample: o.sample === undefined ? null : { size: o.sample, seed: o.seed, method: "stratified by area: equal shares, balanced within one; short areas give all they have" },
    },
    counts: p.result.counts,
    ...(p.result.allocation ? { allocation: p.result.allocation } : {}),
    duplicates: p.result.duplicates,
    suite: { name: p.result.suite.name, hash: p.result.suite.hash, taskCount: p.result.suite.tasks.length },
  };
}
