import { parse } from "csv-parse/sync";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { summarize, type CellExecution, type CellInfo, type CellSummary, type Summary } from "../src/core/summary.js";
import type { FinishReason, RunRecord } from "../src/core/types.js";
import { exportRun } from "../src/report/export.js";
import { heldout, tempDir } from "./helpers/cli.js";

/**
 * `heldout export`: every figure of summary.json and every record comes back exactly from the CSV
 * (read with a real CSV parser) and the JSONL; the markdown is a pull-request comment that stays
 * well under GitHub's 65,536-character limit.
 */

const NASTY = 'a, "quoted" value\nand a second line';
const SUITE = { name: "fixture", hash: "0123456789abcdef".repeat(4), tasks: 6 };

interface RecordSpec {
  pass: boolean;
  latencyMs?: number;
  output?: string;
  finishReason?: FinishReason;
  error?: string | null;
  attempts?: number;
  area?: string | null;
}

function record(cell: CellInfo, task: number, spec: RecordSpec): RunRecord {
  const failed = spec.finishReason === "error";
  return {
    runId: "fx",
    cellId: cell.cellId,
    modelId: cell.modelId,
    suiteHash: SUITE.hash,
    taskId: `t-${String(task).padStart(2, "0")}`,
    area: spec.area === undefined ? (task % 2 ? "odd" : "even") : spec.area,
    sample: 0,
    prompt: `prompt ${task}`,
    promptTokenIds: [1, 2, 3],
    output: spec.output ?? (spec.pass ? "42" : "41"),
    promptTokens: 3 + task,
    completionTokens: failed ? 0 : 2 + (task % 3),
    finishReason: spec.finishReason ?? "eos",
    ttftMs: failed ? null : 0.1 + task / 7,
    latencyMs: spec.latencyMs ?? 1 + task / 3 + Math.PI / 100,
    promptTokensPerSecond: failed ? null : 1000 / 7 + task,
    generationTokensPerSecond: failed ? null : 300 / 7 + task * Math.SQRT2,
    score: { pass: spec.pass, value: spec.pass ? 1 : 0, reason: spec.pass ? "ok" : `expected "42", got "41", ${NASTY}` },
    error: spec.error ?? null,
    errorKind: spec.error ? "http-5xx" : null,
    endpoint: spec.attempts ? "http://a:8080" : null,
    attempts: spec.attempts ?? 1,
    serverTimings: null,
  };
}

function execution(cell: CellInfo, records: readonly RunRecord[], error: string | null = null): CellExecution {
  return {
    cellId: cell.cellId,
    modelId: cell.modelId,
    loadMs: 12.345678901234,
    generationWallMs: 98.76543210987,
    generations: records.length,
    completionTokens: records.reduce((s, r) => s + r.completionTokens, 0),
    peakRssBytes: 123456789,
    peakVramBytes: null,
    backend: {},
    error,
  };
}

/** Three cells: a plain baseline, one whose model id, label and error are full of commas, quotes and newlines, one with no records. */
function fixture(): { summary: Summary; records: RunRecord[] } {
  const base: CellInfo = { cellId: "plain@1", modelId: "plain", label: { "sampling.temperature": "0" }, samples: 1 };
  const nasty: CellInfo = { cellId: "nasty@2", modelId: `m|${NASTY}`, label: { "sampling.temperature": "0.7", "prompt.name": NASTY }, samples: 1 };
  const empty: CellInfo = { cellId: "empty@3", modelId: "empty", label: {}, samples: 1 };
  const baseRecords = [0, 1, 2, 3, 4, 5].map((t) => record(base, t, { pass: t !== 3 }));
  const nastyRecords = [
    record(nasty, 0, { pass: true, output: NASTY, attempts: 2 }),
    record(nasty, 1, { pass: false, finishReason: "error", error: NASTY }),
    record(nasty, 2, { pass: false, finishReason: "timeout", latencyMs: 120000 }),
    record(nasty, 3, { pass: false, output: "   " }),
    record(nasty, 4, { pass: true, area: null }),
    record(nasty, 5, { pass: true, area: NASTY }),
  ];
  const records = [...baseRecords, ...nastyRecords];
  const summary = summarize({ runId: "fx", suite: SUITE }, [base, nasty, empty], records, [
    execution(base, baseRecords),
    execution(nasty, nastyRecords, `engine crashed: ${NASTY}`),
    execution(empty, []),
  ]);
  return { summary, records };
}

function writeRun(root: string, runId: string, run: { summary: Summary; records: RunRecord[] }): string {
  const dir = join(root, runId);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "summary.json"), `${JSON.stringify(run.summary, null, 2)}\n`);
  writeFileSync(join(dir, "records.jsonl"), run.records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  writeFileSync(join(dir, "manifest.json"), `${JSON.stringify({ schemaVersion: 1, runId })}\n`);
  return dir;
}

const parseCsv = (text: string) => parse(text, { columns: true }) as Record<string, string>[];

/** A CSV field against the value it came from: null ↔ empty, numbers exactly, text as is. */
function expectField(field: string | undefined, value: string | number | boolean | null, what: string): void {
  if (value === null) expect(field, what).toBe("");
  else if (typeof value === "number") expect(Number(field), what).toBe(value);
  else expect(field, what).toBe(String(value));
}

const run = fixture();

describe("export --format csv", () => {
  it("fixture: the nasty cell failed, has nulls, failures of every kind, and the empty cell has no figures", () => {
    const [, nasty, empty] = run.summary.cells as [CellSummary, CellSummary, CellSummary];
    expect(nasty.status).toBe("failed");
    expect(nasty.failures).toMatchObject({ errors: 1, timeouts: 1, empty: 1, total: 3 });
    expect(nasty.retried).toBe(1);
    expect(empty.passRate).toBeNull();
    expect(empty.latencyMs.p50).toBeNull();
    expect(run.summary.comparisons).toHaveLength(2);
  });

  it("summary: one row per cell, every figure equal to summary.json's, nulls empty, text intact", () => {
    const csv = exportRun(run, "csv", "summary");
    const rows = parseCsv(csv);
    expect(rows).toHaveLength(3);
    const header = csv.slice(0, csv.indexOf("\n")).split(",");
    expect(header.slice(0, 7)).toEqual(["runId", "suiteName", "suiteHash", "cellId", "modelId", "label.sampling.temperature", "label.prompt.name"]);
    expect(header.slice(7, 10)).toEqual(["status", "expected", "n"]);
    expect(header.at(-1)).toBe("error");
    run.summary.cells.forEach((c, i) => {
      const row = rows[i] as Record<string, string>;
      const figures: Record<string, string | number | null> = {
        runId: "fx",
        suiteName: SUITE.name,
        suiteHash: SUITE.hash,
        cellId: c.cellId,
        modelId: c.modelId,
        "label.sampling.temperature": c.label["sampling.temperature"] ?? null,
        "label.prompt.name": c.label["prompt.name"] ?? null,
        status: c.status,
        expected: c.expected,
        n: c.n,
        passed: c.passed,
        passRate: c.passRate,
        passRateLow: c.passRateInterval?.low ?? null,
        passRateHigh: c.passRateInterval?.high ?? null,
        passRateMethod: c.passRateInterval?.method ?? null,
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
      };
      expect(Object.keys(row).sort()).toEqual(Object.keys(figures).sort());
      for (const [column, value] of Object.entries(figures)) expectField(row[column], value, `${c.cellId} ${column}`);
    });
    // Full precision, not rounded for display.
    expect(rows[0]?.latencyMeanMs).toBe(String(run.summary.cells[0]?.latencyMs.mean));
    expect(rows[1]?.modelId).toBe(`m|${NASTY}`);
    expect(rows[1]?.error).toBe(`engine crashed: ${NASTY}`);
  });

  it("areas: one row per cell × area, exact rates and intervals", () => {
    const rows = parseCsv(exportRun(run, "csv", "areas"));
    const expected = run.summary.cells.flatMap((c) => c.areas.map((a) => ({ c, a })));
    expect(rows).toHaveLength(expected.length);
    expect(rows.map((r) => r.area)).toContain(NASTY);
    expected.forEach(({ c, a }, i) => {
      const row = rows[i] as Record<string, string>;
      const figures = { runId: "fx", cellId: c.cellId, modelId: c.modelId, area: a.area, n: a.n, passed: a.passed, passRate: a.passRate, passRateLow: a.passRateInterval?.low ?? null, passRateHigh: a.passRateInterval?.high ?? null };
      expect(Object.keys(row)).toEqual(Object.keys(figures));
      for (const [column, value] of Object.entries(figures)) expectField(row[column], value, `${c.cellId} ${a.area} ${column}`);
    });
  });

  it("records: one row per record, outputs with commas, quotes and newlines intact", () => {
    const rows = parseCsv(exportRun(run, "csv", "records"));
    expect(rows).toHaveLength(run.records.length);
    run.records.forEach((r, i) => {
      const row = rows[i] as Record<string, string>;
      const figures = {
        runId: r.runId, cellId: r.cellId, modelId: r.modelId, taskId: r.taskId, area: r.area, sample: r.sample,
        pass: r.score.pass, scoreValue: r.score.value, reason: r.score.reason, output: r.output, finishReason: r.finishReason,
        promptTokens: r.promptTokens, completionTokens: r.completionTokens, ttftMs: r.ttftMs, latencyMs: r.latencyMs,
        promptTokensPerSecond: r.promptTokensPerSecond, generationTokensPerSecond: r.generationTokensPerSecond,
        error: r.error, errorKind: r.errorKind, endpoint: r.endpoint, attempts: r.attempts,
      };
      expect(Object.keys(row)).toEqual(Object.keys(figures));
      for (const [column, value] of Object.entries(figures)) expectField(row[column], value, `${r.cellId} ${r.taskId} ${column}`);
    });
    expect(rows.filter((r) => r.output === NASTY)).toHaveLength(1);
    expect(rows.filter((r) => r.output === "   ")).toHaveLength(1);
  });
});

describe("export --format jsonl", () => {
  const lines = (text: string) => text.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

  it("summary: one line per cell, the CellSummary with runId and suite", () => {
    const got = lines(exportRun(run, "jsonl", "summary"));
    expect(got).toEqual(run.summary.cells.map((c) => ({ ...c, runId: "fx", suite: SUITE })));
  });

  it("areas: one line per cell × area; records: as stored", () => {
    const areas = lines(exportRun(run, "jsonl", "areas"));
    expect(areas).toEqual(run.summary.cells.flatMap((c) => c.areas.map((a) => ({ ...a, runId: "fx", cellId: c.cellId, modelId: c.modelId }))));
    expect(lines(exportRun(run, "jsonl", "records"))).toEqual(run.records);
  });
});

describe("export --format markdown", () => {
  const md = exportRun(run, "markdown", "records"); // --table does not change the markdown
  const tableRows = md.split("\n").filter((l) => l.startsWith("|"));

  it("heading, a table row per cell with its pass rate and CI, and the verdicts", () => {
    expect(md).toBe(exportRun(run, "markdown"));
    expect(md.split("\n")[0]).toBe("### heldout: fixture, 6 tasks (sha256 `0123456789ab`), run `fx`");
    expect(tableRows[0]).toMatch(/^\| model \| temperature \| prompt\.name \| pass \(95% CI\) \| n \| \(none\) \| a, "quoted" value and a second line \| even \| odd \| gen tok\/s \| lat p50 ms \| lat p95 ms \| fail \|$/);
    expect(tableRows).toHaveLength(2 + 3);
    const base = run.summary.cells[0] as CellSummary;
    const ci = base.passRateInterval;
    expect(tableRows[2]).toContain(`| plain | 0 |  | 83.3% [${((ci?.low ?? 0) * 100).toFixed(1)}, ${((ci?.high ?? 0) * 100).toFixed(1)}] | 6 |`);
    expect(tableRows[3]).toContain("(failed)");
    for (const c of run.summary.comparisons) expect(md).toContain(c.verdict);
    expect(md).toMatch(/Against the baseline `plain@1`/);
  });

  it("no newline inside a table row, `|` escaped", () => {
    const nastyRow = tableRows[3] as string;
    expect(nastyRow.startsWith("| m\\|a, \"quoted\" value and a second line")).toBe(true);
    // Every row has as many unescaped separators as the header.
    const separators = (l: string) => l.replace(/\\\|/g, "").split("|").length;
    for (const l of tableRows) expect(separators(l)).toBe(separators(tableRows[0] as string));
  });

  it("stays well under 65,536 characters with 500 cells, saying how many were left out; best cell per model in bold", () => {
    const template = run.summary.cells[0] as CellSummary;
    const cells: CellSummary[] = Array.from({ length: 500 }, (_, i) => ({
      ...template,
      cellId: `${"long-model-name-".repeat(8)}${i % 5}@${i}`,
      modelId: `${"long-model-name-".repeat(8)}${i % 5}`,
      label: { "sampling.temperature": `${i / 100}`, "prompt.name": `prompt | ${"x".repeat(200)}\n${i}` },
      passRate: (i % 97) / 97,
      areas: Array.from({ length: 8 }, (_, a) => ({ area: `area-${a}`, n: 6, passed: 3, passRate: 0.5, passRateInterval: null })),
    }));
    const comparisons = cells.slice(1).map((c) => ({ ...(run.summary.comparisons[0] as Summary["comparisons"][number]), baseline: cells[0]?.cellId ?? "", candidate: c.cellId, verdict: `${c.cellId} is better by … ${"words ".repeat(40)}` }));
    const big = exportRun({ summary: { ...run.summary, cells, comparisons }, records: [] }, "markdown");
    expect(big.length).toBeLessThan(65_536);
    expect(big.split("\n").filter((l) => l.startsWith("|"))).toHaveLength(2 + 40);
    expect(big).toContain("460 of 500 cells left out");
    // The best cell of model 0 (i = 96, pass rate 96/97) is shown, in bold.
    expect(big).toMatch(/^\| \*\*long-model-name-.*\*\* \| \*\*0\.96\*\* \|/m);
    // The baseline (pass rate 0) is left out: a verdict for each of the 40 cells shown, then a count of the rest.
    expect(big.split("\n").filter((l) => l.startsWith("- ") && l.includes("is better by"))).toHaveLength(40);
    expect(big).toContain("- … 459 more, for cells left out above");
  });
});

describe("heldout export (the CLI)", () => {
  const root = tempDir("heldout-export-");
  const dir = writeRun(root, "fx", run);

  it("prints the CSV of a run folder, and writes --out (creating folders) for a run id under --results", () => {
    const r = heldout(["export", dir, "--format", "csv"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(exportRun(run, "csv"));
    expect(parseCsv(r.stdout)).toHaveLength(3);
    const out = join(root, "deep", "er", "records.csv");
    const w = heldout(["export", "fx", "--results", root, "--format", "csv", "--table", "records", "--out", out]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toBe("");
    expect(parseCsv(readFileSync(out, "utf8"))).toHaveLength(run.records.length);
  });

  it("an unknown run exits non-zero naming the path; a bad --format is refused", () => {
    const missing = join(root, "no-such-run");
    const r = heldout(["export", missing, "--format", "csv"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(heldout(["export", dir, "--format", "xml"]).code).not.toBe(0);
  });
});
