import { adjustComparisons, pairedComparison } from "../stats/paired.js";
import { mean, percentile } from "./percentile.js";
import { cellConsistency, outcomesByTask, percentileBounds, rateInterval, type Bounds, type CellConsistency, type RateInterval } from "./summary-stats.js";
import { calibration, type Calibration } from "./calibration.js";
import type { CellCost } from "./cost.js";
import { rankDisagreements, type RankDisagreement } from "./rubric.js";
import { bootstrapPercentile } from "../stats/intervals.js";
import { DEFAULT_SEED } from "../stats/random.js";
import type { SubjectiveQuality } from "./subjective.js";
import type { RunRecord } from "./types.js";

/**
 * summary.json: derived from records.jsonl and the per-cell execution facts, never edited.
 * Its JSON Schema is schemas/summary.schema.json; bump SUMMARY_SCHEMA_VERSION on any breaking change.
 */
export const SUMMARY_SCHEMA_VERSION = 1;

/** What the runner measured about a cell as a whole (one line of cells.jsonl). */
export interface CellExecution {
  cellId: string;
  modelId: string;
  loadMs: number | null;
  /** Wall time from the first request handed to the engine to the last generation's end. */
  generationWallMs: number | null;
  /** Generations this execution produced and their completion tokens (a resumed cell has several executions). */
  generations: number;
  completionTokens: number;
  peakRssBytes: number | null;
  peakVramBytes: number | null;
  backend: Record<string, unknown>;
  /** Energy measured during generation where the machine reports it (RAPL, nvidia-smi); null figures otherwise. */
  energy?: { cpuJoules: number | null; gpuJoules: number | null; sources: string[] };
  error: string | null;
}

export interface CellInfo {
  cellId: string;
  modelId: string;
  /** The cell's swept settings as text (empty when nothing is swept). */
  label: Record<string, string>;
  samples: number;
}

export interface AreaSummary {
  area: string;
  n: number;
  passed: number;
  passRate: number | null;
  passRateInterval: RateInterval | null;
}

export interface CellSummary {
  cellId: string;
  modelId: string;
  label: Record<string, string>;
  samples: number;
  status: "completed" | "incomplete" | "failed";
  /** Generations expected for this cell (tasks × samples) and recorded so far. */
  expected: number;
  n: number;
  passed: number;
  passRate: number | null;
  /** 95%: Wilson with one sample per task, else a percentile bootstrap over tasks. */
  passRateInterval: RateInterval | null;
  areas: AreaSummary[];
  latencyMs: { p50: number | null; p95: number | null; p99: number | null; mean: number | null };
  ttftMs: { p50: number | null; p95: number | null };
  promptTokensPerSecond: { median: number | null; p5: number | null };
  generationTokensPerSecond: { median: number | null; p5: number | null };
  /** 95% percentile-bootstrap bounds over generations of the figures above. */
  intervals: { latencyP50: Bounds; latencyP95: Bounds; latencyP99: Bounds; ttftP50: Bounds; generationTokensPerSecondMedian: Bounds };
  /** With several samples per task: pass@1, pass@k, pass^k, tasks failing in every sample, least stable tasks. */
  consistency: CellConsistency | null;
  tokens: { prompt: number; completion: number; completionPerTask: number | null };
  /** Completion tokens of every sequence together ÷ generation wall time: what the engine delivered. */
  aggregateCompletionTokensPerSecond: number | null;
  loadMs: number | null;
  peakRssBytes: number | null;
  peakVramBytes: number | null;
  failures: { errors: number; timeouts: number; empty: number; total: number; rate: number | null };
  /** Server backends: what each endpoint served (empty for the embedded backend). */
  endpoints: EndpointSummary[];
  /** Generations that needed more than one request. */
  retried: number;
  /** False when nothing was timed (outputs read from a file): every speed and latency figure is absent. */
  timed: boolean;
  /** Energy and money under the run's cost profile (run --cost, heldout cost); absent without one. */
  cost?: CellCost;
  /** The suite's rubrics: mean score (0..1) over generations with a 95% bootstrap interval, and how many a gate zeroed. */
  rubrics?: RubricSummary[];
  /** Confidence against correctness, from token probabilities (core/calibration.ts); null where the engine gives none. */
  calibration?: Calibration | null;
  error: string | null;
}

export interface RubricSummary {
  name: string;
  n: number;
  mean: number | null;
  low: number | null;
  high: number | null;
  gated: number;
  /** Generations with a criterion still unknown (awaiting its grade or a person's rating): scored over the rest. */
  pending: number;
}

export interface EndpointSummary {
  endpoint: string;
  generations: number;
  failures: number;
  completionTokens: number;
  /** Median over its generations. */
  generationTokensPerSecond: number | null;
  latencyP50Ms: number | null;
}

export interface Summary {
  schemaVersion: number;
  runId: string;
  suite: { name: string; hash: string; tasks: number };
  /** Cells in plan order (models in the order given, then the sweep's grid order). */
  cells: CellSummary[];
  /** Per model, its cell with the highest pass rate (ties: higher generation tokens/s). */
  best: { modelId: string; cellId: string; passRate: number | null; label: Record<string, string> }[];
  /** Every other cell against the first (the baseline), Holm-adjusted when there are several. */
  comparisons: BaselineComparison[];
  /** What a reader must know before trusting the figures (an unchecked parallel setting...). */
  warnings?: string[];
  /** People's blind ratings (`heldout rate`): per cell and area, with n and intervals; absent when nobody rated. */
  subjective?: SubjectiveQuality;
  /** With several rubrics: for each two, Kendall's τ between their rankings of the cells and the pairs they order differently. */
  rubricDisagreements?: RankDisagreement[];
}

export const NO_AREA = "(none)";

/**
 * `executions` are the cell's lines of cells.jsonl in order (a resumed cell has several): the
 * latest decides its status and memory figures; throughput adds them all up.
 */
export function summarizeCell(cell: CellInfo, expected: number, records: readonly RunRecord[], executions: CellExecution | readonly CellExecution[] | undefined): CellSummary {
  const all = executions === undefined ? [] : Array.isArray(executions) ? (executions as readonly CellExecution[]) : [executions as CellExecution];
  const exec = all[all.length - 1];
  const n = records.length;
  const passed = records.filter((r) => r.score.pass).length;
  const areaNames = [...new Set(records.map((r) => r.area ?? NO_AREA))].sort();
  const areas = areaNames.map((area) => {
    const rs = records.filter((r) => (r.area ?? NO_AREA) === area);
    const ok = rs.filter((r) => r.score.pass).length;
    return { area, n: rs.length, passed: ok, passRate: rs.length ? ok / rs.length : null, passRateInterval: rateInterval(rs) };
  });
  // Timing figures from generations that ran. A timed-out one counts: its latency (at least the
  // timeout) is the tail a user must see. A failed request has no meaningful latency.
  const ran = records.filter((r) => r.finishReason !== "error");
  const nums = (f: (r: RunRecord) => number | null) => ran.map(f).filter((v): v is number => v !== null);
  const latency = nums((r) => r.latencyMs);
  const ttft = nums((r) => r.ttftMs);
  const pps = nums((r) => r.promptTokensPerSecond);
  const gps = nums((r) => r.generationTokensPerSecond);
  const errors = records.filter((r) => r.finishReason === "error").length;
  const timeouts = records.filter((r) => r.finishReason === "timeout").length;
  const empty = records.filter((r) => r.error === null && r.finishReason !== "timeout" && r.output.trim() === "").length;
  const completion = records.reduce((s, r) => s + r.completionTokens, 0);
  const prompt = records.reduce((s, r) => s + r.promptTokens, 0);
  // Tokens and wall time of every execution that measured both: a resume must not divide all the
  // cell's tokens by the wall time of its last part only.
  const timed = all.filter((e) => e.generationWallMs !== null && e.generationWallMs > 0 && e.generations > 0);
  const timedTokens = timed.reduce((s, e) => s + (e.completionTokens ?? 0), 0);
  const wall = timed.reduce((s, e) => s + (e.generationWallMs as number), 0);
  const status = exec?.error ? "failed" : n >= expected && exec ? "completed" : "incomplete";
  return {
    cellId: cell.cellId,
    modelId: cell.modelId,
    label: cell.label,
    samples: cell.samples,
    status,
    expected,
    n,
    passed,
    passRate: n ? passed / n : null,
    passRateInterval: rateInterval(records),
    areas,
    latencyMs: { p50: percentile(latency, 50), p95: percentile(latency, 95), p99: percentile(latency, 99), mean: mean(latency) },
    ttftMs: { p50: percentile(ttft, 50), p95: percentile(ttft, 95) },
    promptTokensPerSecond: { median: percentile(pps, 50), p5: percentile(pps, 5) },
    generationTokensPerSecond: { median: percentile(gps, 50), p5: percentile(gps, 5) },
    intervals: {
      ...latencyBounds(latency),
      ttftP50: percentileBounds(ttft, [50])[0] ?? null,
      generationTokensPerSecondMedian: percentileBounds(gps, [50])[0] ?? null,
    },
    consistency: cellConsistency(records, cell.samples),
    tokens: { prompt, completion, completionPerTask: n ? completion / n : null },
    aggregateCompletionTokensPerSecond: wall > 0 ? (timedTokens * 1000) / wall : null,
    loadMs: exec?.loadMs ?? null,
    peakRssBytes: exec?.peakRssBytes ?? null,
    peakVramBytes: exec?.peakVramBytes ?? null,
    failures: { errors, timeouts, empty, total: errors + timeouts + empty, rate: n ? (errors + timeouts + empty) / n : null },
    endpoints: endpointSummaries(records),
    retried: records.filter((r) => (r.attempts ?? 1) > 1).length,
    timed: n === 0 || latency.length > 0 || ran.length === 0,
    ...rubricSummaries(records),
    calibration: calibration(records),
    error: exec?.error ?? null,
  };
}

function rubricSummaries(records: readonly RunRecord[]): { rubrics?: RubricSummary[] } {
  const names = [...new Set(records.flatMap((r) => Object.keys(r.rubrics ?? {})))];
  if (names.length === 0) return {};
  return {
    rubrics: names.map((name) => {
      const results = records.map((r) => r.rubrics?.[name]).filter((x): x is NonNullable<typeof x> => x !== undefined);
      const scores = results.map((x) => x.score);
      const ci = bootstrapPercentile(scores, (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null), { seed: DEFAULT_SEED });
      return { name, n: scores.length, mean: ci.estimate, low: ci.low, high: ci.high, gated: results.filter((x) => x.gated).length, pending: results.filter((x) => x.criteria.some((c) => c.pending)).length };
    }),
  };
}

function endpointSummaries(records: readonly RunRecord[]): EndpointSummary[] {
  const names = [...new Set(records.map((r) => r.endpoint).filter((e): e is string => typeof e === "string"))].sort();
  return names.map((endpoint) => {
    const rs = records.filter((r) => r.endpoint === endpoint);
    const ok = rs.filter((r) => r.error === null);
    return {
      endpoint,
      generations: rs.length,
      failures: rs.length - ok.length,
      completionTokens: rs.reduce((s, r) => s + r.completionTokens, 0),
      generationTokensPerSecond: percentile(ok.map((r) => r.generationTokensPerSecond).filter((v): v is number => v !== null), 50),
      latencyP50Ms: percentile(ok.map((r) => r.latencyMs).filter((v): v is number => v !== null), 50),
    };
  });
}

function latencyBounds(latency: number[]): { latencyP50: Bounds; latencyP95: Bounds; latencyP99: Bounds } {
  const [p50, p95, p99] = percentileBounds(latency, [50, 95, 99]);
  return { latencyP50: p50 ?? null, latencyP95: p95 ?? null, latencyP99: p99 ?? null };
}

/** One cell against the run's first cell (its baseline), on their common tasks. */
export interface BaselineComparison {
  baseline: string;
  candidate: string;
  tasks: number;
  /** candidate − baseline pass rate, with its paired-bootstrap 95% interval. */
  difference: number | null;
  low: number | null;
  high: number | null;
  candidateWins: number;
  baselineWins: number;
  ties: number;
  pValue: number;
  /** Holm-adjusted over all comparisons with the baseline. */
  pAdjusted: number | null;
  minimalDetectableDifference: number | null;
  significant: boolean;
  verdict: string;
}

export function compareWithBaseline(cells: readonly CellInfo[], records: readonly RunRecord[]): BaselineComparison[] {
  const [base, ...others] = cells;
  if (!base || others.length === 0) return [];
  const outcomes = (id: string) => outcomesByTask(records.filter((r) => r.cellId === id));
  const a = outcomes(base.cellId);
  const raw = others.map((c) => pairedComparison(a, outcomes(c.cellId), { names: { a: base.cellId, b: c.cellId } }));
  // Several candidates against one baseline are a family of tests: Holm keeps the chance of any
  // false "better/worse" at 5%.
  const results = raw.length > 1 ? adjustComparisons(raw) : raw;
  return results.map((r, i) => ({
    baseline: base.cellId,
    candidate: (others[i] as CellInfo).cellId,
    tasks: r.tasks,
    difference: r.difference,
    low: r.low,
    high: r.high,
    candidateWins: r.bWins,
    baselineWins: r.aWins,
    ties: r.ties,
    pValue: r.pValue,
    pAdjusted: r.pAdjusted,
    minimalDetectableDifference: r.mdd,
    significant: r.significant,
    verdict: r.verdict,
  }));
}

export function summarize(
  run: { runId: string; suite: { name: string; hash: string; tasks: number } },
  cells: readonly CellInfo[],
  records: readonly RunRecord[],
  executions: readonly CellExecution[],
  warnings: readonly string[] = [],
): Summary {
  const byCell = new Map<string, RunRecord[]>();
  for (const r of records) {
    const list = byCell.get(r.cellId);
    if (list) list.push(r);
    else byCell.set(r.cellId, [r]);
  }
  const summaries = cells.map((c) =>
    summarizeCell(
      c,
      run.suite.tasks * c.samples,
      byCell.get(c.cellId) ?? [],
      executions.filter((e) => e.cellId === c.cellId),
    ),
  );
  return {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    runId: run.runId,
    suite: run.suite,
    cells: summaries,
    best: bestPerModel(summaries),
    comparisons: compareWithBaseline(cells, records),
    warnings: [...warnings],
    ...(summaries.some((c) => (c.rubrics?.length ?? 0) > 1) ? { rubricDisagreements: rankDisagreements(summaries.map((c) => ({ cellId: c.cellId, rubrics: c.rubrics ?? [] }))) } : {}),
  };
}

export function bestPerModel(cells: readonly CellSummary[]): Summary["best"] {
  const best = new Map<string, CellSummary>();
  for (const c of cells) {
    const current = best.get(c.modelId);
    if (!current || compareQuality(c, current) < 0) best.set(c.modelId, c);
  }
  return [...best.values()].map((c) => ({ modelId: c.modelId, cellId: c.cellId, passRate: c.passRate, label: c.label }));
}

/** Higher pass rate first, then faster generation. */
export function compareQuality(a: CellSummary, b: CellSummary): number {
  const pa = a.passRate ?? -1;
  const pb = b.passRate ?? -1;
  if (pa !== pb) return pb - pa;
  return (b.generationTokensPerSecond.median ?? -1) - (a.generationTokensPerSecond.median ?? -1);
}
