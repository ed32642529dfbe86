import { bestPerModel, compareQuality, type CellSummary, type Summary } from "../core/summary.js";
import type { RunRecord } from "../core/types.js";
import { formatMs, formatNumber } from "./table.js";

/**
 * `heldout export`: a finished run as CSV or JSONL (for spreadsheets, notebooks, dashboards) or as
 * markdown fit for a pull-request comment. Pure: a loaded run in, text out.
 *
 * CSV: a header row, RFC 4180 quoting, numbers at full precision (String(n), so they parse back to
 * the same double), null as an empty field, text written raw (no formula-injection mangling).
 * Summaries written before a field existed read it as null (empty).
 */

export const EXPORT_FORMATS = ["csv", "markdown", "jsonl"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const EXPORT_TABLES = ["summary", "areas", "records"] as const;
export type ExportTable = (typeof EXPORT_TABLES)[number];

export interface ExportableRun {
  summary: Summary;
  records: readonly RunRecord[];
}

type Field = string | number | boolean | null | undefined;
type Row = Record<string, Field>;

export function exportRun(run: ExportableRun, format: ExportFormat, table: ExportTable = "summary"): string {
  if (format === "markdown") return markdownSummary(run.summary);
  if (format === "jsonl") return jsonl(jsonlRows(run, table));
  const rows = table === "summary" ? summaryRows(run.summary) : table === "areas" ? areaRows(run.summary) : run.records.map(recordRow);
  return toCsv(rows, table === "summary" ? summaryColumns(run.summary) : table === "areas" ? AREA_COLUMNS : RECORD_COLUMNS);
}

// ---------------------------------------------------------------- CSV

export function csvField(v: Field): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: readonly Row[], columns: readonly string[]): string {
  return [columns, ...rows.map((r) => columns.map((c) => r[c]))].map((r) => `${r.map(csvField).join(",")}\n`).join("");
}

const labelsOf = (c: CellSummary): Record<string, string> => c.label ?? {};
const sweptPaths = (cells: readonly CellSummary[]) => [...new Set(cells.flatMap((c) => Object.keys(labelsOf(c))))];

function summaryColumns(summary: Summary): string[] {
  return ["runId", "suiteName", "suiteHash", "cellId", "modelId", ...sweptPaths(summary.cells).map((p) => `label.${p}`), ...SUMMARY_FIGURES];
}

const SUMMARY_FIGURES = [
  "status", "expected", "n", "passed", "passRate", "passRateLow", "passRateHigh", "passRateMethod",
  "latencyP50Ms", "latencyP95Ms", "latencyP99Ms", "latencyMeanMs", "ttftP50Ms", "ttftP95Ms",
  "promptTokensPerSecondMedian", "promptTokensPerSecondP5", "generationTokensPerSecondMedian", "generationTokensPerSecondP5",
  "aggregateCompletionTokensPerSecond", "promptTokens", "completionTokens", "completionTokensPerTask",
  "loadMs", "peakRssBytes", "peakVramBytes", "failuresErrors", "failuresTimeouts", "failuresEmpty", "failuresTotal", "failureRate",
  "retried", "error",
];

function summaryRows(summary: Summary): Row[] {
  return summary.cells.map((c) => ({
    runId: summary.runId,
    suiteName: summary.suite.name,
    suiteHash: summary.suite.hash,
    cellId: c.cellId,
    modelId: c.modelId,
    ...Object.fromEntries(Object.entries(labelsOf(c)).map(([k, v]) => [`label.${k}`, v])),
    status: c.status,
    expected: c.expected,
    n: c.n,
    passed: c.passed,
    passRate: c.passRate,
    passRateLow: c.passRateInterval?.low,
    passRateHigh: c.passRateInterval?.high,
    passRateMethod: c.passRateInterval?.method,
    latencyP50Ms: c.latencyMs.p50,
    latencyP95Ms: c.latencyMs.p95,
    latencyP99Ms: c.latencyMs.p99,
    latencyMeanMs: c.latencyMs.mean,
    ttftP50Ms: c.ttftMs.p50,
    ttftP95Ms: c.ttftMs.p95,
    promptTokensPerSecondMedian: c.promptTokensPerSecond.median,
    promptTokensPerSecondP5: c.promptTokensPerSecond.p5,
    generationTokensPerSecondMedian: c.generationTokensPerSecond.median,
    generationTokensPerSecondP5: c.generationTokensPerSecond.p5,
    aggregateCompletionTokensPerSecond: c.aggregateCompletionTokensPerSecond,
    promptTokens: c.tokens.prompt,
    completionTokens: c.tokens.completion,
    completionTokensPerTask: c.tokens.completionPerTask,
    loadMs: c.loadMs,
    peakRssBytes: c.peakRssBytes,
    peakVramBytes: c.peakVramBytes,
    failuresErrors: c.failures.errors,
    failuresTimeouts: c.failures.timeouts,
    failuresEmpty: c.failures.empty,
    failuresTotal: c.failures.total,
    failureRate: c.failures.rate,
    retried: c.retried,
    error: c.error,
  }));
}

const AREA_COLUMNS = ["runId", "cellId", "modelId", "area", "n", "passed", "passRate", "passRateLow", "passRateHigh"];

function areaRows(summary: Summary): Row[] {
  return summary.cells.flatMap((c) =>
    c.areas.map((a) => ({
      runId: summary.runId,
      cellId: c.cellId,
      modelId: c.modelId,
      area: a.area,
      n: a.n,
      passed: a.passed,
      passRate: a.passRate,
      passRateLow: a.passRateInterval?.low,
      passRateHigh: a.passRateInterval?.high,
    })),
  );
}

const RECORD_COLUMNS = [
  "runId", "cellId", "modelId", "taskId", "area", "sample", "pass", "scoreValue", "reason", "output", "finishReason",
  "promptTokens", "completionTokens", "ttftMs", "latencyMs", "promptTokensPerSecond", "generationTokensPerSecond",
  "error", "errorKind", "endpoint", "attempts",
];

function recordRow(r: RunRecord): Row {
  return {
    runId: r.runId,
    cellId: r.cellId,
    modelId: r.modelId,
    taskId: r.taskId,
    area: r.area,
    sample: r.sample,
    pass: r.score.pass,
    scoreValue: r.score.value,
    reason: r.score.reason,
    output: r.output,
    finishReason: r.finishReason,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    ttftMs: r.ttftMs,
    latencyMs: r.latencyMs,
    promptTokensPerSecond: r.promptTokensPerSecond,
    generationTokensPerSecond: r.generationTokensPerSecond,
    error: r.error,
    errorKind: r.errorKind,
    endpoint: r.endpoint,
    attempts: r.attempts,
  };
}

// ---------------------------------------------------------------- JSONL

function jsonlRows(run: ExportableRun, table: ExportTable): readonly unknown[] {
  const { summary } = run;
  switch (table) {
    case "summary":
      return summary.cells.map((c) => ({ runId: summary.runId, suite: summary.suite, ...c }));
    case "areas":
      return summary.cells.flatMap((c) => c.areas.map((a) => ({ runId: summary.runId, cellId: c.cellId, modelId: c.modelId, ...a })));
    case "records":
      return run.records;
  }
}

const jsonl = (rows: readonly unknown[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join("");

// ---------------------------------------------------------------- markdown

/** Cells in the markdown table; GitHub caps a comment at 65,536 characters. */
export const MARKDOWN_MAX_CELLS = 40;
const MARKDOWN_MAX_AREAS = 8;
const TEXT_MAX = 60;

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
const oneLine = (s: string, max = TEXT_MAX) => {
  const one = s.replace(/\r\n|\r|\n/g, " ");
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
};
/** A table cell: one line, long text cut, `\` and `|` escaped. */
const mdText = (s: string, max = TEXT_MAX) => oneLine(s, max).replace(/\\/g, "\\\\").replace(/\|/g, "\\|");
const mdRow = (cols: readonly string[]) => `| ${cols.join(" | ")} |`;

export function markdownSummary(summary: Summary): string {
  const all = summary.cells;
  const kept = new Set([...all].sort(compareQuality).slice(0, MARKDOWN_MAX_CELLS));
  const cells = all.filter((c) => kept.has(c)); // plan order: the baseline stays first
  const swept = sweptPaths(cells);
  const areaNames = [...new Set(cells.flatMap((c) => c.areas.map((a) => a.area)))].sort();
  const areas = areaNames.length <= MARKDOWN_MAX_AREAS ? areaNames : [];
  const perModel = new Map<string, number>();
  for (const c of all) perModel.set(c.modelId, (perModel.get(c.modelId) ?? 0) + 1);
  const best = new Set(bestPerModel(all).filter((b) => (perModel.get(b.modelId) ?? 0) > 1).map((b) => b.cellId));

  const header = ["model", ...swept.map((p) => mdText(p.replace(/^(sampling|runtime)\./, ""))), "pass (95% CI)", "n", ...areas.map((a) => mdText(a)), "gen tok/s", "lat p50 ms", "lat p95 ms", "fail"];
  const align = header.map((_, i) => (i <= swept.length ? "---" : "---:"));
  const rows = cells.map((c) => {
    const ci = c.passRateInterval;
    const cols = [
      mdText(c.modelId) + (c.status === "completed" ? "" : ` (${c.status})`),
      ...swept.map((p) => mdText(labelsOf(c)[p] ?? "")),
      `${pct(c.passRate)}${ci ? ` [${(ci.low * 100).toFixed(1)}, ${(ci.high * 100).toFixed(1)}]` : ""}`,
      String(c.n),
      ...areas.map((a) => pct(c.areas.find((x) => x.area === a)?.passRate)),
      formatNumber(c.generationTokensPerSecond.median, 1),
      formatMs(c.latencyMs.p50),
      formatMs(c.latencyMs.p95),
      pct(c.failures.rate),
    ];
    return mdRow(best.has(c.cellId) ? cols.map((x) => (x === "" ? x : `**${x}**`)) : cols);
  });

  const samples = [...new Set(all.map((c) => c.samples).filter((s) => s > 1))];
  const lines = [
    `### heldout: ${mdText(summary.suite.name)}, ${summary.suite.tasks} tasks${samples.length ? ` × ${samples.join("/")} samples` : ""} (sha256 \`${summary.suite.hash.slice(0, 12)}\`), run \`${oneLine(summary.runId)}\``,
    "",
    mdRow(header),
    mdRow(align),
    ...rows,
  ];
  if (all.length > cells.length) lines.push("", `${all.length - cells.length} of ${all.length} cells left out (the lowest pass rates); \`heldout export ${summary.runId} --format csv\` has them all.`);
  if (best.size > 0) lines.push("", "**Bold**: the best cell of its model (pass rate, then generation speed).");

  const comparisons = summary.comparisons ?? [];
  const keptIds = new Set(cells.map((c) => c.cellId));
  const shown = comparisons.filter((c) => keptIds.has(c.candidate));
  if (comparisons.length > 0) {
    lines.push("", `Against the baseline \`${oneLine(comparisons[0]?.baseline ?? "", 200)}\`${comparisons.length > 1 ? " (p Holm-adjusted)" : ""}:`, "");
    for (const c of shown) lines.push(`- \`${oneLine(c.candidate, 200)}\`: ${c.significant ? "**" : ""}${oneLine(c.verdict, 400)}${c.significant ? "**" : ""}`);
    if (shown.length < comparisons.length) lines.push(`- … ${comparisons.length - shown.length} more, for cells left out above`);
  }
  return `${lines.join("\n")}\n`;
}
