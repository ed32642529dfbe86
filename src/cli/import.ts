import { Option, type Command } from "commander";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { IMPORT_FORMATS, parseMap, type ImportFormat } from "../import/parse.js";
import { DEFAULT_RUBRIC, importLog, makeProvenance, type ImportOptions, type ImportResult } from "../import/pipeline.js";
import { parseScrubKinds, SCRUB_KINDS, type ScrubKind } from "../import/scrub.js";
import { checkTarget, PROVENANCE_FILE, writeImportedSuite } from "../import/write.js";
import { DEFAULT_SEED } from "../stats/random.js";
import { packageVersion } from "../system/fingerprint.js";

interface ImportFlags {
  format?: ImportFormat;
  map?: string;
  out?: string;
  name?: string;
  reply: "expected" | "drop";
  nearThreshold: string;
  shingle: string;
  scrub?: string | boolean;
  sample?: string;
  seed: string;
  unanswered?: "drop" | "keep";
  judgeModel?: string;
  rubric?: string;
  scorer: string;
  maxTokens: string;
  delimiter: string;
  force?: boolean;
  dryRun?: boolean;
}

export function registerImport(program: Command): void {
  program
    .command("import")
    .description("turn a log (JSONL, CSV, OpenAI chat-completions or Ollama request dumps) into a frozen suite: deduplicated, scrubbed, sampled by area")
    .argument("<file>", "the log")
    .addOption(new Option("--format <format>", "the log's format (default: from the extension: .csv → csv, .jsonl/.ndjson/.json → jsonl)").choices(IMPORT_FORMATS))
    .option("--map <pairs>", "where each field is, as dotted paths: input=request.prompt,expected=response.text,area=meta.team (jsonl/csv default: input=input,expected=expected,area=area; chat formats: overrides; an empty path turns a field off)")
    .option("--out <dir>", "the suite folder to write (tasks/<name>)")
    .option("--name <name>", "the suite's name (default: the folder's name)")
    .addOption(new Option("--reply <what>", "openai-chat, ollama-log: the assistant reply becomes the expected answer, or is dropped").choices(["expected", "drop"]).default("expected"))
    .option("--near-threshold <t>", "near duplicates: Jaccard similarity of character shingles at or above this", "0.9")
    .option("--shingle <k>", "near duplicates: shingle length in characters", "5")
    .option("--scrub <kinds>", `kinds to replace with placeholders (default all: ${SCRUB_KINDS.map((k) => k.toLowerCase()).join(",")})`)
    .option("--no-scrub", "keep e-mail addresses, phone numbers, IPs, keys and long numbers as they are")
    .option("--sample <n>", "keep n tasks, stratified by area (equal shares, balanced within one)")
    .option("--seed <n>", "seed of the sample", String(DEFAULT_SEED))
    .addOption(new Option("--unanswered <what>", "items without an expected answer: drop them (counted), or keep them (graded by --judge-model; default: keep with a judge, else drop)").choices(["drop", "keep"]))
    .option("--judge-model <file>", "the judge (a manifest or .gguf) that grades items without an expected answer (the judge scorer)")
    .option("--rubric <text>", "the judge's rubric (default: a generic one, written into the suite)")
    .option("--scorer <type>", "the suite's scorer (exact, normalized, contains, ...)", "exact")
    .option("--max-tokens <n>", "the suite's generation limit per task", "256")
    .option("--delimiter <c>", "csv: the field delimiter (\\t for tabs)", ",")
    .option("--force", "replace an existing suite folder")
    .option("--dry-run", "print every step's numbers without writing anything")
    .addHelpText(
      "after",
      `
Steps, each counted: parse (a malformed record stops the import, naming its line) → drop empty
inputs → exact duplicates → near duplicates → scrub → drop items without an expected answer →
stratified sample → suite.yaml, tasks.jsonl, suite.lock.json and provenance.json, written all at once.

Examples:
  heldout import traffic.jsonl --map input=request.prompt,expected=response.text,area=meta.team --out tasks/traffic --sample 240 --seed 7
  heldout import chats.jsonl --format openai-chat --map area=metadata.feature --out tasks/chats
  heldout import dump.jsonl --format ollama-log --reply drop --judge-model models/judge.yaml --rubric "Helpful, correct, brief" --out tasks/ollama
  heldout import questions.csv --map input=question,expected=answer,area=topic --out tasks/faq`,
    )
    .action((file: string, flags: ImportFlags) => {
      const options = importOptions(file, flags);
      if (!flags.dryRun) checkTarget(options.outDir, flags.force === true);
      if (!existsSync(file) || !statSync(file).isFile()) throw new HeldoutError("file-not-found", `no such file`, { file });
      const bytes = readFileSync(file);
      const source = { path: file, sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
      const result = importLog(bytes.toString("utf8"), options);
      if (options.judge && result.suite.tasks.some((t) => t.expected === undefined) && !existsSync(options.judge.model))
        result.warnings.push(`the judge ${options.judge.model} is not a file here: \`heldout run\` looks for it from the working directory, then from the suite folder`);
      process.stdout.write(report(file, source.sha256, options, result));
      if (flags.dryRun) {
        process.stdout.write(`dry run: nothing written (the suite would have ${result.suite.tasks.length} tasks, sha256 ${result.suite.hash})\n`);
        return;
      }
      const provenance = makeProvenance({ source, options, result, heldoutVersion: packageVersion("heldout"), createdAt: new Date() });
      const lock = writeImportedSuite(options.outDir, result.suite, { suiteYaml: result.suiteYaml, tasksJsonl: result.tasksJsonl, provenance }, flags.force === true);
      process.stdout.write(
        `wrote ${options.outDir}: ${lock.taskCount} tasks, sha256 ${lock.hash}; frozen (suite.lock.json), provenance in ${join(options.outDir, PROVENANCE_FILE)}\n`,
      );
    });
}

function importOptions(file: string, flags: ImportFlags): ImportOptions {
  const format = flags.format ?? formatFromExtension(file);
  if (!flags.out && !flags.dryRun) throw new HeldoutError("invalid-option", `is required: the suite folder to write, e.g. tasks/${basename(file, extname(file)) || "imported"}`, { field: "--out" });
  const outDir = flags.out ?? join("tasks", basename(file, extname(file)));
  const name = flags.name ?? basename(resolve(outDir));
  let scrub: ScrubKind[];
  if (flags.scrub === false) scrub = [];
  else if (typeof flags.scrub === "string") {
    try {
      scrub = parseScrubKinds(flags.scrub);
      if (scrub.length === 0) throw new RangeError("names no kind (--no-scrub turns scrubbing off)");
    } catch (e) {
      throw new HeldoutError("invalid-option", (e as Error).message, { field: "--scrub" });
    }
  } else scrub = [...SCRUB_KINDS];
  if (flags.rubric !== undefined && !flags.judgeModel) throw new HeldoutError("invalid-option", `is the judge's rubric: give --judge-model too`, { field: "--rubric" });
  if (flags.rubric !== undefined && flags.rubric.trim() === "") throw new HeldoutError("invalid-option", `is empty`, { field: "--rubric" });
  const delimiter = flags.delimiter === "\\t" || flags.delimiter === "tab" ? "\t" : flags.delimiter;
  if (delimiter.length !== 1 || delimiter === '"') throw new HeldoutError("invalid-option", `must be one character other than a quote, got "${flags.delimiter}"`, { field: "--delimiter" });
  return {
    format,
    file,
    map: flags.map === undefined ? {} : parseMap(flags.map),
    reply: flags.reply,
    delimiter,
    nearThreshold: numberFlag("--near-threshold", flags.nearThreshold, { min: 0, max: 1, above: true }),
    shingleSize: numberFlag("--shingle", flags.shingle, { min: 1, integer: true }),
    scrub,
    ...(flags.sample === undefined ? {} : { sample: numberFlag("--sample", flags.sample, { min: 1, integer: true }) }),
    seed: numberFlag("--seed", flags.seed, { integer: true }),
    unanswered: flags.unanswered ?? (flags.judgeModel ? "keep" : "drop"),
    ...(flags.judgeModel ? { judge: { model: flags.judgeModel, rubric: flags.rubric ?? DEFAULT_RUBRIC } } : {}),
    name,
    scorer: { type: flags.scorer },
    maxTokens: numberFlag("--max-tokens", flags.maxTokens, { min: 1, integer: true }),
    outDir,
  };
}

function formatFromExtension(file: string): ImportFormat {
  const ext = extname(file).toLowerCase();
  if (ext === ".csv" || ext === ".tsv") return "csv";
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".json") return "jsonl";
  throw new HeldoutError("invalid-option", `cannot tell the format from the file's name: give --format ${IMPORT_FORMATS.join("|")}`, { file });
}

function numberFlag(flag: string, text: string, check: { min?: number; max?: number; integer?: boolean; above?: boolean }): number {
  const v = Number(text);
  const bad = (why: string) => new HeldoutError("invalid-option", `${why}, got "${text}"`, { field: flag });
  if (text.trim() === "" || !Number.isFinite(v)) throw bad("must be a number");
  if (check.integer && !Number.isInteger(v)) throw bad("must be a whole number");
  if (check.min !== undefined && (check.above ? v <= check.min : v < check.min)) throw bad(`must be ${check.above ? "above" : "at least"} ${check.min}`);
  if (check.max !== undefined && v > check.max) throw bad(`must be at most ${check.max}`);
  return v;
}

const n = (x: number) => x.toLocaleString("en-US");

function areaList(areas: Record<string, number>): string {
  return Object.entries(areas)
    .map(([a, c]) => `${a} ${n(c)}`)
    .join(", ");
}

/** Every step's numbers, one line each: nothing is dropped or replaced without being counted. */
export function report(file: string, sha256: string, o: ImportOptions, r: ImportResult): string {
  const c = r.counts;
  const rows: [string, string][] = [];
  rows.push(["read", `${n(c.records)} records (${o.format}), 0 malformed${c.logLinesSkipped ? `; ${n(c.logLinesSkipped)} server log lines skipped (not request bodies)` : ""}`]);
  rows.push(["empty input", `${n(c.emptyInput)} dropped`]);
  rows.push([
    "exact duplicates",
    `${n(c.exactDuplicates)} removed (equal after NFKC, case folding, whitespace collapsed)${c.exactDuplicatesWithOtherExpected ? `; ${n(c.exactDuplicatesWithOtherExpected)} of them had another expected answer than the one kept` : ""}`,
  ]);
  const pairs = r.duplicates.near.slice(0, 3).map((d) => `line ${d.line} ≈ ${d.keptLine} (${d.similarity?.toFixed(2)})`);
  rows.push([
    "near duplicates",
    `${n(c.nearDuplicates)} removed (${o.shingleSize}-character shingles, Jaccard ≥ ${o.nearThreshold}${r.systemLeftOut ? "; system messages left out of the comparison" : ""})${pairs.length ? `, e.g. ${pairs.join(", ")}` : ""}`,
  ]);
  if (c.scrubbed) {
    const kinds = o.scrub.map((k) => `${k} ${n(c.scrubbed?.replaced[k] ?? 0)} (${n(c.scrubbed?.distinct[k] ?? 0)} distinct)`).join(", ");
    const total = o.scrub.reduce((s, k) => s + (c.scrubbed?.replaced[k] ?? 0), 0);
    const off = SCRUB_KINDS.filter((k) => !o.scrub.includes(k));
    rows.push(["scrubbed", `${n(total)} values in ${n(c.scrubbed.items)} items: ${kinds}${off.length ? `; not scrubbed: ${off.join(", ")}` : ""}`]);
  } else rows.push(["scrubbed", "off (--no-scrub): e-mail addresses, phone numbers, IPs, keys and long numbers are kept as they are"]);
  rows.push([
    "no expected answer",
    o.unanswered === "drop"
      ? `${n(c.withoutExpectedDropped)} dropped${c.withoutExpectedDropped > 0 ? " (--judge-model keeps them, graded by a judge)" : ""}`
      : `${n(c.withoutExpected)} kept, ${o.judge ? `graded by the judge ${o.judge.model}${o.judge.rubric === DEFAULT_RUBRIC ? " with the default rubric" : ""}` : "with no expected answer (the scorer grades without one)"}`,
  ]);
  if (r.hasAreas) rows.push(["areas", `${areaList(c.areasBefore)} (${n(Object.keys(c.areasBefore).length)} areas)`]);
  if (o.sample !== undefined) rows.push(["sampled", `${n(c.tasks)} of ${n(Object.values(c.areasBefore).reduce((s, x) => s + x, 0))} (seed ${o.seed})${r.hasAreas ? `: ${areaList(c.areasAfter)}` : ""}`]);
  if (c.scrubbed) rows.push(["scrubbed in suite", o.scrub.map((k) => `${k} ${n(c.scrubbedInSuite[k])}`).join(", ")]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [`heldout import: ${file} (sha256 ${sha256.slice(0, 12)}…)`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
  for (const w of r.warnings) lines.push(`  note: ${w}`);
  return `${lines.join("\n")}\n`;
}
