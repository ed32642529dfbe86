import { percentile } from "../core/percentile.js";
import type { CellExecution } from "../core/summary.js";
import type { RunRecord, RuntimeSettings } from "../core/types.js";
import { formatNumber } from "../report/table.js";
import { percentileInterval } from "../stats/intervals.js";
import type { BenchMeasurement, BenchTest, LlamaBenchSettings } from "./llama-bench.js";
import type { RepetitionRule } from "../stats/repetitions.js";

/**
 * Throughput reconciliation (pure): for one cell of a finished run, heldout's client-side prompt
 * and generation tokens/s, the engine's own figures for the same generations (llama-server's
 * `timings`, Ollama's durations; none for the embedded node-llama-cpp engine) and llama.cpp's
 * llama-bench on the same model file, threads and lengths, side by side; and the gap between
 * them in milliseconds, as terms that add up to the client's figure. Records, engine facts and
 * llama-bench samples in; rows, decompositions and text out. Running llama-bench is
 * src/check/llama-bench.ts's job.
 */

export type EngineKind = "embedded" | "llama-server" | "openai" | "ollama";

/** What the cell ran on, from its manifest entry and its execution in cells.jsonl. */
export interface CellFacts {
  cellId: string;
  modelId: string;
  engine: EngineKind;
  /** How the engine is described in the table. */
  engineLabel: string;
  modelPath: string | null;
  modelSha256: string | null;
  threads: number | null;
  parallel: number;
  flashAttention: boolean;
  batchSize: number | null;
  kvCacheType: string | null;
  gpuLayers: number;
  /** node-llama-cpp's binary (prebuilt, localBuild) and CPU variant, for the embedded engine. */
  binary: string | null;
  cpuVariant: string | null;
}

/** The fields of a manifest cell this module reads (RunManifest["cells"][number] has them). */
export interface ManifestCellLike {
  id: string;
  modelId: string;
  modelSha256?: string;
  /** Absent in manifests written before runtime settings were recorded per cell. */
  runtime?: Partial<RuntimeSettings>;
  settings?: { parallel?: number };
  model?: { path: string; sha256?: string };
}

export interface FactOverrides {
  modelPath?: string;
  threads?: number;
}

const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** The flag value in a recorded command line ("-t 1 -ngl 0 ..."). */
function argValue(args: string | null, flag: string): string | null {
  if (!args) return null;
  const parts = args.split(/\s+/);
  const i = parts.indexOf(flag);
  return i >= 0 && i + 1 < parts.length ? (parts[i + 1] as string) : null;
}

export function cellFacts(cell: ManifestCellLike, executions: readonly CellExecution[], overrides: FactOverrides = {}): CellFacts {
  // The last execution that reached the engine: a resumed cell's later executions may be bookkeeping only.
  const exec = [...executions].reverse().find((e) => obj(e.backend).context !== undefined) ?? executions[executions.length - 1];
  const backend = obj(exec?.backend);
  const context = obj(backend.context);
  const engineInfo = obj(backend.engine);
  const model = obj(backend.model);
  const kind = str(backend.kind) ?? "llama";
  let engine: EngineKind;
  if (kind === "openai") engine = "openai";
  else if (kind === "ollama") engine = "ollama";
  else engine = engineInfo.library === "llama-server" || model.engine === "llama-server" || cell.runtime?.engine === "llama-server" ? "llama-server" : "embedded";
  const serverArgs = str(context.args) ?? str(engineInfo.args);
  // An OpenAI-compatible llama-server reports the file it serves in /props.
  const endpoints = Array.isArray(engineInfo.endpoints) ? (engineInfo.endpoints as unknown[]) : [];
  const servedPath = endpoints.map((e) => str(obj(obj(e).props).model_path)).find((p) => p !== null) ?? null;
  // Runs from before cells.jsonl had `context` kept the threads under `runtime`.
  const recordedThreads = num(context.threads) ?? num(Number(argValue(serverArgs, "-t") ?? NaN)) ?? num(obj(backend.runtime).threads);
  const gpuLayers = num(model.gpuLayers) ?? num(Number(argValue(serverArgs, "-ngl") ?? NaN)) ?? (engineInfo.gpu === false ? 0 : null) ?? 0;
  const binary = str(engineInfo.binary);
  const cpuVariant = str(engineInfo.cpuVariant);
  const labels: Record<EngineKind, string> = {
    embedded: `node-llama-cpp in the engine host${binary ? ` (${binary}${cpuVariant ? `, ${cpuVariant}` : ""})` : ""}`,
    "llama-server": "llama.cpp's llama-server (engine: llama-server)",
    openai: "an OpenAI-compatible server",
    ollama: "an Ollama server",
  };
  return {
    cellId: cell.id,
    modelId: cell.modelId,
    engine,
    engineLabel: labels[engine],
    modelPath: overrides.modelPath ?? (cell.model?.path ? cell.model.path : null) ?? servedPath,
    modelSha256: engine === "embedded" || engine === "llama-server" ? (cell.model?.sha256 ?? cell.modelSha256 ?? null) : null,
    threads: overrides.threads ?? (engine === "embedded" || engine === "llama-server" ? recordedThreads : null),
    parallel: cell.settings?.parallel ?? num(context.sequences) ?? 1,
    flashAttention: typeof context.flashAttention === "boolean" ? context.flashAttention : (obj(backend.runtime).flashAttention ?? cell.runtime?.flashAttention) === true,
    batchSize: num(context.batchSize) ?? num(obj(backend.runtime).batchSize) ?? cell.runtime?.batchSize ?? null,
    kvCacheType: str(context.kvCacheType) ?? cell.runtime?.kvCacheType ?? null,
    gpuLayers,
    binary,
    cpuVariant,
  };
}

/** The lengths llama-bench is run at: the cell's median prompt and completion token counts. */
export interface Lengths {
  generations: number;
  promptMedian: number;
  promptRange: [number, number];
  completionMedian: number;
  completionRange: [number, number];
}

/** Generations that ran (a failed request has no timing worth comparing). */
export function timedRecords(records: readonly RunRecord[]): RunRecord[] {
  return records.filter((r) => r.finishReason !== "error" && r.error === null);
}

export function cellLengths(records: readonly RunRecord[]): Lengths | null {
  const ran = timedRecords(records);
  if (ran.length === 0) return null;
  const p = ran.map((r) => r.promptTokens);
  const c = ran.map((r) => r.completionTokens);
  return {
    generations: ran.length,
    promptMedian: Math.max(1, Math.round(percentile(p, 50) as number)),
    promptRange: [Math.min(...p), Math.max(...p)],
    completionMedian: Math.max(1, Math.round(percentile(c, 50) as number)),
    completionRange: [Math.min(...c), Math.max(...c)],
  };
}

/** What llama-bench should run for this cell, or why it cannot. */
export type BenchPlan = { settings: LlamaBenchSettings; tests: BenchTest[] } | { reason: string };

export function benchPlan(facts: CellFacts, lengths: Lengths | null): BenchPlan {
  if (!lengths) return { reason: "the cell has no generation that ran" };
  if (!facts.modelPath) return { reason: `the model file is not known for ${facts.engineLabel}: pass --model-file` };
  if (facts.threads === null) return { reason: `the thread count the server used is not recorded: pass --threads` };
  return {
    settings: { modelPath: facts.modelPath, threads: facts.threads, flashAttention: facts.flashAttention, batchSize: facts.batchSize, kvCacheType: facts.kvCacheType, gpuLayers: facts.gpuLayers },
    tests: [
      { kind: "pp", tokens: lengths.promptMedian, depth: 0 },
      { kind: "tg", tokens: lengths.completionMedian, depth: lengths.promptMedian },
    ],
  };
}

/** A throughput figure with its 95% interval. */
export interface Estimate {
  value: number;
  low: number | null;
  high: number | null;
  /** Half the interval's width as a percentage of the value. */
  halfWidthPercent: number | null;
  /** Generations (client, engine) or repetitions (llama-bench). */
  n: number;
  statistic: "median" | "mean";
  interval: "bootstrap" | "t";
}

export interface SourceRow {
  source: "client" | "engine" | "llama-bench";
  label: string;
  /** What the figures time, in a few words. */
  definition: string;
  prompt: Estimate | null;
  generation: Estimate | null;
  /** Why a figure is missing, or a caveat that goes with it. */
  note: string | null;
}

export interface GapTerm {
  label: string;
  ms: number;
  /** The arithmetic behind the term, with the figures of the table. */
  formula: string;
  /** Share of the total (may be negative). */
  share: number;
}

export interface GapDecomposition {
  unit: string;
  total: { label: string; ms: number };
  terms: GapTerm[];
}

export interface WarmUpEffect {
  first: number;
  rest: number;
  firstGenerationMedian: number | null;
  restGenerationMedian: number | null;
  firstTtftMedian: number | null;
  restTtftMedian: number | null;
  /** How much the cell's median generation tok/s moves when the first generations are left out (%). */
  medianShiftPercent: number | null;
  /** What warmed the engine before the timed generations. */
  untimedWarmUp: string;
}

export interface BenchOutcome {
  exe: string | null;
  measurements: BenchMeasurement[];
  /** Why llama-bench did not run (or failed); null when it ran. */
  reason: string | null;
}

export interface Reconciliation {
  runId: string;
  cellId: string;
  modelId: string;
  facts: CellFacts;
  lengths: Lengths | null;
  rule: RepetitionRule;
  rows: SourceRow[];
  /** The first round's command line of each test (later rounds differ only in -r). */
  bench: { commands: string[][]; pp: BenchSummary | null; tg: BenchSummary | null; reason: string | null };
  /** Generation: ms per generated token; prompt: ms per generation (median time to first token). */
  gaps: { generation: GapDecomposition | null; prompt: GapDecomposition | null };
  warmUp: WarmUpEffect | null;
  /**
   * Server generations that ended at end-of-sequence whose completion count is the server's
   * predicted_n, which counts the end-of-sequence token (heldout's definition does not, and it
   * streams no text): the client's (completion − 1) ÷ (last − first token) then counts one
   * interval too many. With the client's median generation tok/s recomputed without it.
   */
  eosCounted: { generations: number; correctedGenerationMedian: number | null } | null;
  /** Server cells: the client's latency against the engine's own time per request. */
  request: RequestOverhead | null;
  /** Server cells: generations whose tokens reached the client in bursts. */
  bursts: { bursts: number; of: number } | null;
  notes: string[];
}

export interface BenchSummary {
  test: BenchTest;
  reps: number;
  rounds: number;
  stopped: "converged" | "max-reps";
  samples: number[];
}

/** The engine's own figures for one generation, where the backend reported them. */
export interface EngineFigures {
  source: "llama-server" | "ollama";
  promptTps: number | null;
  generationTps: number | null;
  /** The engine's prompt phase, ms (llama-server prompt_ms, Ollama prompt_eval_duration). */
  promptMs: number | null;
  /** Prompt tokens the engine evaluated, and those it reused from its prompt cache. */
  promptEvaluated: number | null;
  promptCached: number | null;
  /** The engine's whole request: prompt phase + generation phase, ms. */
  totalMs: number | null;
  /** The engine's generation phase (first to last sampled token), ms, and the decode steps in it. */
  generationMs: number | null;
  generationSteps: number | null;
}

const positive = (v: number | null | undefined): number | null => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null);

export function engineFigures(r: RunRecord): EngineFigures | null {
  const t = r.serverTimings;
  if (!t) return null;
  if ("predicted_per_second" in t || "prompt_per_second" in t || "predicted_ms" in t) {
    // llama-server: prompt_per_second = prompt_n ÷ prompt_ms (the uncached tokens only, first
    // token's sampling included); predicted_per_second = (predicted_n − 1) ÷ predicted_ms.
    return {
      source: "llama-server",
      promptTps: positive(t.prompt_per_second),
      generationTps: positive(t.predicted_per_second),
      promptMs: positive(t.prompt_ms),
      promptEvaluated: num(t.prompt_n),
      promptCached: num(t.cache_n),
      totalMs: positive(t.prompt_ms) !== null && num(t.predicted_ms) !== null ? (t.prompt_ms as number) + (t.predicted_ms as number) : null,
      generationMs: positive(t.predicted_ms),
      generationSteps: num(t.predicted_n) !== null ? Math.max(0, (t.predicted_n as number) - 1) : null,
    };
  }
  if ("eval_duration" in t || "prompt_eval_duration" in t) {
    // Ollama (durations already in ms): eval_count ÷ eval_duration, as Ollama defines them.
    const count = positive(t.eval_count);
    const dur = positive(t.eval_duration);
    const pCount = positive(t.prompt_eval_count);
    const pDur = positive(t.prompt_eval_duration);
    return {
      source: "ollama",
      promptTps: pCount !== null && pDur !== null ? (pCount * 1000) / pDur : null,
      generationTps: count !== null && dur !== null ? (count * 1000) / dur : null,
      promptMs: pDur,
      promptEvaluated: pCount,
      promptCached: null,
      totalMs: pDur !== null && dur !== null ? pDur + dur : null,
      generationMs: dur,
      generationSteps: count,
    };
  }
  return null;
}

/** Median with a percentile-bootstrap 95% interval over generations (seeded: the same records give the same interval). */
export function medianEstimate(values: readonly number[]): Estimate | null {
  const xs = values.filter((v) => Number.isFinite(v) && v > 0);
  if (xs.length === 0) return null;
  const ci = percentileInterval(xs, 50, { resamples: 2000 });
  const value = ci.estimate as number;
  const half = ci.low !== null && ci.high !== null ? (ci.high - ci.low) / 2 : null;
  return { value, low: ci.low, high: ci.high, halfWidthPercent: half !== null && value > 0 ? (100 * half) / value : null, n: xs.length, statistic: "median", interval: "bootstrap" };
}

export function benchEstimate(m: BenchMeasurement | undefined): Estimate | null {
  if (!m || m.samples.length === 0) return null;
  const i = m.interval;
  return { value: i.mean, low: i.low, high: i.high, halfWidthPercent: i.halfWidthPercent, n: i.n, statistic: "mean", interval: "t" };
}

/**
 * Telescoping terms: the innermost level (llama-bench's pure evaluation) first, then each outer
 * level minus the one inside it; they add up to the outermost (the client's) by construction.
 */
export function telescope(unit: string, levels: readonly { name: string; ms: number; term: string }[]): GapDecomposition | null {
  if (levels.length === 0) return null;
  const total = levels[levels.length - 1] as { name: string; ms: number };
  const terms: GapTerm[] = levels.map((l, i) => {
    const inner = levels[i - 1];
    const ms = inner ? l.ms - inner.ms : l.ms;
    const formula = inner ? `${l.name} ${fmtMs(l.ms)} − ${inner.name} ${fmtMs(inner.ms)}` : `${l.name} ${fmtMs(l.ms)}`;
    return { label: l.term, ms, formula, share: total.ms !== 0 ? ms / total.ms : 0 };
  });
  return { unit, total: { label: total.name, ms: total.ms }, terms };
}

const fmtMs = (ms: number) => (Math.abs(ms) >= 100 ? ms.toFixed(1) : Math.abs(ms) >= 1 ? ms.toFixed(3) : ms.toFixed(4));

interface GapWords {
  engineName: string;
  insideGeneration: string;
  outsideGeneration: string;
  insidePrompt: string;
  outsidePrompt: string;
}

function words(facts: CellFacts): GapWords {
  switch (facts.engine) {
    case "embedded":
      return {
        engineName: "node-llama-cpp",
        // No engine figure: one term from llama-bench to the client.
        insideGeneration:
          "node-llama-cpp's evaluate loop and heldout's over llama-bench: sampling, two worker-thread hand-offs per token, JavaScript (about 0.24 ms/token with equivalent binaries, ../shared/docs/engine-measurements.md)",
        outsideGeneration: "",
        insidePrompt: "node-llama-cpp beyond llama-bench: the evaluate call, first-token sampling, thread hand-offs (the prompt is tokenized before the clock starts)",
        outsidePrompt: "",
      };
    case "ollama":
      return {
        engineName: "Ollama",
        insideGeneration: "inside Ollama beyond llama-bench: sampling, its runner's per-token loop",
        outsideGeneration: "outside Ollama's eval timer: streaming JSON lines over HTTP, parsing, heldout's loop",
        insidePrompt: "inside Ollama beyond llama-bench: first-token sampling, runner scheduling (minus any cached prefix)",
        outsidePrompt: "outside Ollama's prompt timer: HTTP request, tokenizing, template, first streamed line",
      };
    default:
      return {
        engineName: "llama-server",
        insideGeneration: "inside llama-server beyond llama-bench: sampling, slot and batch bookkeeping, each streamed chunk's text",
        outsideGeneration: "outside the engine's timer: SSE streaming over HTTP, parsing, heldout's loop",
        insidePrompt: "inside llama-server beyond llama-bench: slot setup, first-token sampling, minus the prompt tokens it reused from its cache",
        outsidePrompt: "outside the engine's prompt timer: the HTTP request, tokenizing the text prompt, queueing, the first streamed chunk",
      };
  }
}

/** Generation, ms per generated token: client = llama-bench decode + (engine − llama-bench) + (client − engine). */
export function generationGap(facts: CellFacts, client: number | null, engine: number | null, bench: number | null, tg: BenchTest | null): GapDecomposition | null {
  if (client === null) return null;
  const w = words(facts);
  const levels: { name: string; ms: number; term: string }[] = [];
  if (bench !== null) levels.push({ name: "llama-bench", ms: 1000 / bench, term: `decode: llama-bench tg${tg?.tokens ?? "?"} at depth ${tg?.depth ?? "?"} (forward passes of random tokens, no sampling)` });
  if (engine !== null) levels.push({ name: w.engineName, ms: 1000 / engine, term: bench !== null ? w.insideGeneration : `${w.engineName}'s own time per token` });
  if (levels.length === 0) return null;
  const outside = engine !== null ? w.outsideGeneration : w.insideGeneration;
  levels.push({ name: "client", ms: 1000 / client, term: outside });
  return telescope("ms per generated token", levels);
}

/** Prompt phase, ms per generation (median TTFT): llama-bench pp + (engine prompt − llama-bench) + (TTFT − engine prompt). */
export function promptGap(facts: CellFacts, ttftMs: number | null, enginePromptMs: number | null, benchPp: number | null, pp: BenchTest | null): GapDecomposition | null {
  if (ttftMs === null) return null;
  const w = words(facts);
  const levels: { name: string; ms: number; term: string }[] = [];
  if (benchPp !== null && pp) levels.push({ name: "llama-bench", ms: (pp.tokens * 1000) / benchPp, term: `decode of ${pp.tokens} prompt tokens: llama-bench pp${pp.tokens} (random tokens, empty cache)` });
  if (enginePromptMs !== null) levels.push({ name: w.engineName, ms: enginePromptMs, term: benchPp !== null ? w.insidePrompt : `${w.engineName}'s own prompt time` });
  if (levels.length === 0) return null;
  levels.push({ name: "client TTFT", ms: ttftMs, term: enginePromptMs !== null ? w.outsidePrompt : w.insidePrompt });
  return telescope("ms per generation (median time to first token)", levels);
}

/**
 * Generations that ended at end-of-sequence with the server's predicted_n (end-of-sequence
 * included) as their completion count, and the client's median generation tok/s with that token
 * taken out: n tokens over n − 1 intervals were really n − 1 tokens over n − 2, so each rate is
 * scaled by (n − 2)/(n − 1) (a generation left with one streamed token has no rate).
 */
export function eosCountedCorrection(records: readonly RunRecord[]): { generations: number; correctedGenerationMedian: number | null } | null {
  const counted = (r: RunRecord) => r.finishReason === "eos" && r.serverTimings?.predicted_n !== undefined && r.serverTimings.predicted_n === r.completionTokens && r.completionTokens >= 2;
  const hits = records.filter(counted);
  if (hits.length === 0) return null;
  const rates = records.map((r) => {
    const g = r.generationTokensPerSecond;
    if (g === null) return NaN;
    if (!counted(r)) return g;
    return r.completionTokens >= 3 ? (g * (r.completionTokens - 2)) / (r.completionTokens - 1) : NaN;
  });
  return { generations: hits.length, correctedGenerationMedian: percentile(rates, 50) };
}

/** Per request, the client's end-to-end latency against the engine's own prompt + generation time. */
export interface RequestOverhead {
  generations: number;
  latencyMedian: number;
  engineMedian: number;
  /** Median over generations of (client latency − engine time): what a request costs outside the engine. */
  outsideMedian: number;
}

export function requestOverhead(records: readonly RunRecord[]): RequestOverhead | null {
  const pairs = records
    .map((r) => ({ latency: r.latencyMs, f: engineFigures(r) }))
    .filter((p): p is { latency: number; f: NonNullable<typeof p.f> & { totalMs: number } } => p.latency !== null && p.f?.totalMs !== null && p.f?.totalMs !== undefined);
  if (pairs.length === 0) return null;
  return {
    generations: pairs.length,
    latencyMedian: percentile(pairs.map((p) => p.latency), 50) as number,
    engineMedian: percentile(pairs.map((p) => p.f.totalMs), 50) as number,
    outsideMedian: percentile(pairs.map((p) => p.latency - p.f.totalMs), 50) as number,
  };
}

/**
 * Generations whose tokens reached the client in bursts: the client's first-to-last-token time is
 * under half of what the engine's own time per step implies for the tokens it streamed. Their
 * client generation tok/s measures delivery, not generation.
 */
export function burstGenerations(records: readonly RunRecord[]): { bursts: number; of: number } | null {
  let of = 0;
  let bursts = 0;
  for (const r of records) {
    const f = engineFigures(r);
    const g = r.generationTokensPerSecond;
    if (!f || g === null || f.generationMs === null || !f.generationSteps) continue;
    const eos = r.finishReason === "eos" && r.serverTimings?.predicted_n === r.completionTokens ? 1 : 0;
    const streamedSteps = r.completionTokens - eos - 1;
    if (streamedSteps < 1) continue;
    const clientMs = ((r.completionTokens - 1) * 1000) / g;
    const impliedMs = (f.generationMs / f.generationSteps) * streamedSteps;
    of++;
    if (clientMs < 0.5 * impliedMs) bursts++;
  }
  return of === 0 ? null : { bursts, of };
}

/** The first `k` generations of the cell (in the order they were recorded) against the rest. */
export function warmUpEffect(records: readonly RunRecord[], facts: CellFacts, k = 5): WarmUpEffect | null {
  const ran = timedRecords(records);
  if (ran.length < 2 * k) return null;
  const gen = (rs: readonly RunRecord[]) => percentile(rs.map((r) => r.generationTokensPerSecond).filter((v): v is number => v !== null), 50);
  const ttft = (rs: readonly RunRecord[]) => percentile(rs.map((r) => r.ttftMs).filter((v): v is number => v !== null), 50);
  const first = ran.slice(0, k);
  const rest = ran.slice(k);
  const all = gen(ran);
  const restMedian = gen(rest);
  const untimed: Record<EngineKind, string> = {
    embedded: "untimed warm-up generations on the cell's context before it (300 ms on a host's first cell, one generation on later cells)",
    "llama-server": "one untimed short request before the cell",
    openai: "one untimed short request per endpoint before the cell (warmUp)",
    ollama: "one untimed short request per endpoint before the cell (warmUp)",
  };
  return {
    first: first.length,
    rest: rest.length,
    firstGenerationMedian: gen(first),
    restGenerationMedian: restMedian,
    firstTtftMedian: ttft(first),
    restTtftMedian: ttft(rest),
    medianShiftPercent: all !== null && restMedian !== null && all > 0 ? (100 * (restMedian - all)) / all : null,
    untimedWarmUp: untimed[facts.engine],
  };
}

export interface ReconcileInput {
  runId: string;
  facts: CellFacts;
  records: readonly RunRecord[];
  bench: BenchOutcome;
  rule: RepetitionRule;
  warmUpFirst?: number;
}

export function reconcile(input: ReconcileInput): Reconciliation {
  const { facts, rule } = input;
  const ran = timedRecords(input.records);
  const lengths = cellLengths(ran);
  const notes: string[] = [];

  const client: SourceRow = {
    source: "client",
    label: "heldout (client side)",
    definition: "per generation: prompt tokens ÷ TTFT; (completion − 1) ÷ (last − first token); median",
    prompt: medianEstimate(ran.map((r) => r.promptTokensPerSecond ?? NaN)),
    generation: medianEstimate(ran.map((r) => r.generationTokensPerSecond ?? NaN)),
    note: null,
  };

  const figures = ran.map(engineFigures).filter((f): f is EngineFigures => f !== null);
  const engineSource = figures[0]?.source ?? null;
  const engineRow: SourceRow =
    figures.length > 0
      ? {
          source: "engine",
          label: engineSource === "ollama" ? "Ollama's own durations" : "llama-server's own timings",
          definition: engineSource === "ollama" ? "prompt_eval_count ÷ prompt_eval_duration; eval_count ÷ eval_duration; median" : "prompt_n ÷ prompt_ms (uncached tokens); (predicted_n − 1) ÷ predicted_ms; median",
          prompt: medianEstimate(figures.map((f) => f.promptTps ?? NaN)),
          generation: medianEstimate(figures.map((f) => f.generationTps ?? NaN)),
          note: figures.length < ran.length ? `${ran.length - figures.length} of ${ran.length} generations carried no engine timings` : null,
        }
      : {
          source: "engine",
          label: "engine's own",
          definition: "",
          prompt: null,
          generation: null,
          note:
            facts.engine === "embedded"
              ? "node-llama-cpp reports no timings of its own: the embedded engine is compared with llama-bench directly"
              : "the server reported no timings (llama-server's `timings`, Ollama's durations) with its responses",
        };

  const pp = input.bench.measurements.find((m) => m.test.kind === "pp");
  const tg = input.bench.measurements.find((m) => m.test.kind === "tg");
  const benchRow: SourceRow = {
    source: "llama-bench",
    label: pp || tg ? `llama-bench ${[pp ? `pp${pp.test.tokens}` : null, tg ? `tg${tg.test.tokens}@d${tg.test.depth}` : null].filter(Boolean).join(", ")}` : "llama-bench",
    definition: "random tokens; pp from an empty cache, tg one token per decode at the prompt's depth, no sampling; mean of repetitions",
    prompt: benchEstimate(pp),
    generation: benchEstimate(tg),
    note: input.bench.reason,
  };

  const enginePromptMs = percentile(figures.map((f) => f.promptMs).filter((v): v is number => v !== null), 50);
  const ttft = percentile(ran.map((r) => r.ttftMs).filter((v): v is number => v !== null), 50);
  const gaps = {
    generation: generationGap(facts, client.generation?.value ?? null, engineRow.generation?.value ?? null, benchRow.generation?.value ?? null, tg?.test ?? null),
    prompt: promptGap(facts, ttft, enginePromptMs, benchRow.prompt?.value ?? null, pp?.test ?? null),
  };

  // Honest caveats: what differs between the three sources besides the engine's own overheads.
  if (lengths) {
    notes.push(
      `lengths: the cell's prompts are ${range(lengths.promptRange)} tokens (median ${lengths.promptMedian}) and its outputs ${range(lengths.completionRange)} (median ${lengths.completionMedian}); llama-bench runs the medians on random tokens, one token per decode, without sampling, so per-generation costs (one HTTP request, one first-token sampling) weigh differently on shorter and longer generations`,
    );
  }
  const cached = figures.map((f) => f.promptCached).filter((v): v is number => v !== null);
  const evaluated = figures.map((f) => f.promptEvaluated).filter((v): v is number => v !== null);
  if (cached.length > 0 && cached.some((c) => c > 0)) {
    notes.push(
      `prompt cache: llama-server reused a median ${formatNumber(percentile(cached, 50), 0)} prompt tokens per request (cache_n, up to ${Math.max(...cached)}) and evaluated a median ${formatNumber(percentile(evaluated, 50), 0)} (prompt_n): its prompt tok/s covers those only, while the client's and llama-bench's cover every prompt token`,
    );
  }
  if (facts.engine === "embedded" && facts.binary && facts.binary !== "localBuild") {
    notes.push(
      `binary: the cell ran node-llama-cpp's ${facts.binary} binary${facts.cpuVariant ? ` (${facts.cpuVariant} CPU variant)` : ""}, while llama-bench is a portable OpenMP build of the same llama.cpp source: part of the gap may be kernels, not per-token overhead (\`heldout engine build\` gives the embedded engine the same kind of build)`,
    );
  }
  if (facts.parallel > 1) {
    notes.push(`parallel: the cell decoded ${facts.parallel} sequences together; the client and engine figures are per sequence, llama-bench's are for one sequence alone, so the gap includes batching`);
  }
  if (facts.engine === "openai" || facts.engine === "ollama") {
    notes.push(`server: heldout did not start this server; llama-bench ran on ${facts.modelPath ?? "no file"} with ${facts.threads ?? "?"} threads, which must be the server's file and thread count for the comparison to hold`);
  }
  if (gaps.generation && gaps.generation.terms.some((t) => t.ms < 0)) {
    notes.push("a negative term means the outer figure was faster than the inner one: noise between separately timed runs, tokens arriving in bursts at the client (short outputs through a server), or llama-bench's single-token decodes being slower at their depth than the engine's");
  }
  const bursts = burstGenerations(ran);
  if (bursts && bursts.bursts / bursts.of > 0.1) {
    notes.push(
      `bursts: on ${bursts.bursts} of ${bursts.of} generations the tokens reached the client in bursts (its first-to-last-token time was under half of what the engine's own time per token implies): there the client's generation tok/s measures delivery, not generation, and the wait moved into its TTFT; the per-request line (latency against the engine's own time) does not depend on it`,
    );
  }
  const eosCounted = eosCountedCorrection(ran);
  if (eosCounted) {
    const corrected = eosCounted.correctedGenerationMedian;
    notes.push(
      `end-of-sequence counted: ${eosCounted.generations} of the cell's ${ran.length} generations ended at end-of-sequence with a completion count equal to the server's predicted_n, which includes the end-of-sequence token (it streams no text); heldout's (completion − 1) ÷ (last − first token) then counts one interval too many and overstates the client's generation tok/s${corrected !== null ? `: without it the client's median is ${formatNumber(corrected, 0)} tok/s (${fmtMs(1000 / corrected)} ms per token)` : ""}`,
    );
  }
  const c = client.generation;
  if (c && c.halfWidthPercent !== null && c.halfWidthPercent > rule.ciWidthPercent) {
    notes.push(`the client's generation median is known to ±${c.halfWidthPercent.toFixed(1)}% (wider than ±${rule.ciWidthPercent}%): its generations are fixed by the run; more tasks or samples narrow it`);
  }
  for (const m of input.bench.measurements) {
    if (m.stopped === "max-reps") notes.push(`llama-bench ${m.test.kind}: stopped at the maximum ${m.samples.length} repetitions with the interval at ±${(m.interval.halfWidthPercent ?? NaN).toFixed(1)}%, wider than the ±${rule.ciWidthPercent}% asked`);
  }

  const summary = (m: BenchMeasurement | undefined): BenchSummary | null => (m ? { test: m.test, reps: m.samples.length, rounds: m.rounds, stopped: m.stopped, samples: m.samples } : null);
  return {
    runId: input.runId,
    cellId: facts.cellId,
    modelId: facts.modelId,
    facts,
    lengths,
    rule,
    rows: [client, engineRow, benchRow],
    bench: { commands: input.bench.measurements.map((m) => m.command), pp: summary(pp), tg: summary(tg), reason: input.bench.reason },
    gaps,
    warmUp: warmUpEffect(ran, facts, input.warmUpFirst ?? 5),
    eosCounted,
    request: requestOverhead(ran),
    bursts,
    notes,
  };
}

/** "+1.2%", "−0.4%", "0.0%": a real minus sign, and no sign on a value that rounds to zero. */
function signed(v: number, digits: number, suffix = ""): string {
  const text = Math.abs(v).toFixed(digits);
  if (Number(text) === 0) return `${text}${suffix}`;
  return `${v < 0 ? "−" : "+"}${text}${suffix}`;
}

const range = ([a, b]: [number, number]) => (a === b ? String(a) : `${a}–${b}`);

function fmtEstimate(e: Estimate | null): [string, string] {
  if (!e) return ["–", ""];
  const value = formatNumber(e.value, e.value < 100 ? 1 : 0);
  if (e.low === null || e.high === null) return [value, ""];
  const d = e.value < 100 ? 1 : 0;
  return [value, `${formatNumber(e.low, d)}–${formatNumber(e.high, d)} (±${(e.halfWidthPercent ?? 0).toFixed(1)}%)`];
}

function fmtGap(g: GapDecomposition, title: string): string[] {
  const out = [`${title}, ${g.unit}: ${g.total.label} ${fmtMs(g.total.ms)} =`];
  for (const t of g.terms) {
    out.push(`  ${(t.ms >= 0 ? "+" : "−") + fmtMs(Math.abs(t.ms)).padStart(8)}  ${signed(t.share * 100, 0, "%").replace("+", "").padStart(6)}  ${t.label}`);
    out.push(`  ${" ".repeat(9)}  ${" ".repeat(6)}  (${t.formula})`);
  }
  return out;
}

/** The reconciliation as text: the three sources, the gap in ms, the warm-up effect, the caveats. */
export function formatReconciliation(r: Reconciliation): string {
  const f = r.facts;
  const lines: string[] = [];
  lines.push(`Throughput reconciliation: run ${r.runId}, cell ${r.cellId}`);
  lines.push(`engine: ${f.engineLabel}; ${f.threads ?? "?"} thread${f.threads === 1 ? "" : "s"}, ${f.parallel} sequence${f.parallel === 1 ? "" : "s"}, flash attention ${f.flashAttention ? "on" : "off"}; model ${f.modelPath ?? "(unknown file)"}${f.modelSha256 ? ` (sha256 ${f.modelSha256.slice(0, 12)}…)` : ""}`);
  if (r.lengths) lines.push(`lengths: ${r.lengths.generations} generations; prompt median ${r.lengths.promptMedian} tokens, completion median ${r.lengths.completionMedian}`);
  lines.push("");
  const header = ["source", "prompt tok/s", "95% CI", "gen tok/s", "95% CI", "n"];
  const body = r.rows.map((row) => {
    const [p, pci] = fmtEstimate(row.prompt);
    const [g, gci] = fmtEstimate(row.generation);
    const n = row.source === "llama-bench" ? [r.bench.pp ? `${r.bench.pp.reps} reps pp` : null, r.bench.tg ? `${r.bench.tg.reps} tg` : null].filter(Boolean).join(", ") : row.prompt || row.generation ? `${Math.max(row.prompt?.n ?? 0, row.generation?.n ?? 0)} generations` : "";
    return [row.label, p, pci, g, gci, n];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const right = new Set([1, 3]);
  const fmtRow = (cells: string[]) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join("  ").trimEnd();
  lines.push(fmtRow(header));
  lines.push(widths.map((w) => "─".repeat(w)).join("  "));
  for (const b of body) lines.push(fmtRow(b));
  for (const row of r.rows) if (row.note) lines.push(`  ${row.source}: ${row.note}`);
  lines.push(
    `  client: median over generations, 95% bootstrap interval; ${r.rows[1]?.prompt || r.rows[1]?.generation ? "engine: the same over its own per-request figures; " : ""}llama-bench: mean of repetitions, 95% t interval, repeated in rounds (each a llama-bench process with one untimed warm-up) until within ±${r.rule.ciWidthPercent}% or ${r.rule.maxReps} repetitions`,
  );
  for (const c of r.bench.commands) lines.push(`  $ ${c.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  lines.push("");
  if (r.gaps.generation) lines.push(...fmtGap(r.gaps.generation, "Generation"));
  else lines.push("Generation: no decomposition (no client figure, or neither an engine figure nor llama-bench to compare with)");
  lines.push("");
  if (r.gaps.prompt) lines.push(...fmtGap(r.gaps.prompt, "Prompt"));
  else lines.push("Prompt: no decomposition (no client TTFT, or neither an engine figure nor llama-bench to compare with)");
  if (r.request) {
    lines.push("");
    lines.push(
      `Per request (median over ${r.request.generations} generations): client latency ${fmtMs(r.request.latencyMedian)} ms, the engine's own prompt + generation time ${fmtMs(r.request.engineMedian)} ms; latency − engine time: ${fmtMs(r.request.outsideMedian)} ms per request outside the engine (HTTP, tokenizing the text, streaming, parsing).`,
    );
  }
  lines.push("");
  const w = r.warmUp;
  if (w) {
    const pct = w.medianShiftPercent === null ? "–" : signed(w.medianShiftPercent, 1, "%");
    lines.push(
      `Warm-up: the first ${w.first} generations ran at a median ${formatNumber(w.firstGenerationMedian, 0)} gen tok/s (TTFT ${w.firstTtftMedian === null ? "–" : fmtMs(w.firstTtftMedian)} ms), the other ${w.rest} at ${formatNumber(w.restGenerationMedian, 0)} (TTFT ${w.restTtftMedian === null ? "–" : fmtMs(w.restTtftMedian)} ms); leaving the first out moves the cell's median generation tok/s by ${pct}. Before them the engine had ${w.untimedWarmUp}.`,
    );
  } else {
    lines.push("Warm-up: too few generations to compare the first ones with the rest.");
  }
  if (r.notes.length > 0) {
    lines.push("");
    lines.push("Notes:");
    for (const n of r.notes) lines.push(`  - ${n}`);
  }
  return lines.join("\n");
}
