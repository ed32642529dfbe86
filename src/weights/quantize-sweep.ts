import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { kldAgainstBase, readBaseWindows, writeKldBase, type PerplexityKld } from "./perplexity-kld.js";
import { HeldoutError, StoppedBySignal } from "../core/errors.js";
import { kldFrontier, recommendation, type SweepRow } from "../core/quant-sweep.js";
import { promptText } from "../core/prompt.js";
import { DEFAULT_PROMPT } from "../core/sweep.js";
import { runningMeanGap, type DivergenceStats } from "../core/divergence.js";
import type { RuntimeSettings } from "../core/types.js";
import { RunStore } from "../store/results.js";
import { QUANTIZATION_FILE } from "../store/weights-files.js";
import type { RunOutcome } from "../runner/run.js";
import { loadModelSpec, resolveModel } from "../store/models.js";
import { loadRun } from "../store/runs.js";
import { loadSuite } from "../store/suite-files.js";
import { removeScratch, type DivergenceResult, type ReferenceResult } from "./divergence-run.js";
import { removeStaleScratch, runDivergenceJob } from "./divergence-jobs.js";
import { ggufTensors } from "./gguf-tensors.js";
import { quantizedVariant, quantizeDir, type QuantizedVariant } from "./quantize.js";
import { compareVariants, runModels, writeVariantManifest, type StudyRun } from "./variant-run.js";

/**
 * `heldout quantize-sweep`: quantize a model to several types with llama-quantize, run the suite
 * on the source and every variant (one run, so the usual table, report and records), measure each
 * variant's next-token distributions against the source's on the suite's own prompts and expected
 * answers, and cross-check one variant's KL divergence with llama-perplexity's.
 */

export interface SweepOptions extends StudyRun {
  modelFile: string;
  types: string[];
  /** The variant to cross-check with llama-perplexity; null: none. */
  crossCheck: string | null;
}

export interface CrossCheck {
  type: string;
  contextSize: number;
  windows: number;
  positions: number;
  llamaPerplexity: PerplexityKld;
  /**
   * heldout's variant distributions (node-llama-cpp) scored against the reference llama-perplexity
   * stored (its base file, decoded, with its −16 floor): the same reference, positions and formula
   * as llama-perplexity's own pass, so the two must agree window by window.
   */
  sameReference: DivergenceStats;
  /** |sameReference − llama-perplexity| mean KLD. */
  difference: number;
  /**
   * The worst gap between the two running means, window by window (core/divergence.ts
   * runningMeanGap). Information only: on quantized weights the two engines' kernels differ
   * (llama-perplexity's static build repacks q4_0), which moves single windows by a few percent.
   */
  windowGap: { maxAbsolute: number; maxRelative: number; window: number; maxZ: number } | null;
  /** Mean KL(llama-perplexity's stored reference ‖ heldout's source distributions): ~0 when both score the same positions alike. */
  referenceAgreement: number | null;
  /** heldout's own figure on these windows (its full-precision reference), and its gap to llama-perplexity's. */
  heldout: DivergenceStats;
  ownDifference: number;
  /** The same-reference mean within llama-perplexity's stated error, and the reference agreement within REFERENCE_TOLERANCE. */
  agrees: boolean;
  /** Both tools' passes over the windows, end to end. */
  ms: number;
}

export interface VariantRecord extends Omit<QuantizedVariant, "path"> {
  path: string;
  modelId: string;
  /** Null when the scoring process failed (`divergenceError` says why). */
  divergence: DivergenceResult | null;
  divergenceError: string | null;
  timings: { quantizeMs: number | null; divergenceMs: number | null; runMs: number | null };
}

export interface QuantizationFile {
  schemaVersion: 1;
  source: { modelId: string; file: string; sha256: string; sizeBytes: number; tensorTypes: Record<string, number> };
  /** Tasks scored, positions, and tasks skipped because prompt + answer do not fit the context. */
  suite: { name: string; hash: string; scoredTasks: number; positions: number; skippedTasks: number };
  /** What the divergence figures are over. */
  positions: string;
  /** The source's own answer perplexity, the time its reference distributions took (process, load, scoring), and its suite run (load + generation). */
  reference: { answerPerplexity: number | null; answerTokens: number; ms: number; runMs: number | null };
  variants: VariantRecord[];
  rows: SweepRow[];
  frontier: string[];
  recommendation: string;
  crossCheck: CrossCheck | null;
}

/**
 * Most KL(llama-perplexity's stored reference ‖ heldout's source distributions) may be on the
 * cross-check windows: measured ~1e-6 on arith and stories260K, where scoring the wrong positions
 * gives values near 1.
 */
export const REFERENCE_TOLERANCE = 0.0001;

const log = (quiet: boolean, line: string) => {
  if (!quiet) process.stderr.write(`${line}\n`);
};

export async function quantizeSweep(options: SweepOptions): Promise<{ outcome: RunOutcome; file: QuantizationFile | null }> {
  const spec = loadModelSpec(options.modelFile);
  if (spec.backend !== "llama") throw new HeldoutError("invalid-model", `quantize-sweep needs a GGUF model (backend llama); "${spec.id}" is backend ${spec.backend}`, { file: options.modelFile, field: "backend" });
  const types = [...new Set(options.types.map((t) => t.trim().toLowerCase()).filter(Boolean))];
  if (types.length === 0) throw new HeldoutError("invalid-option", "--types names no quantization type", { field: "types" });
  if (options.crossCheck !== null && !types.includes(options.crossCheck)) throw new HeldoutError("invalid-option", `--cross-check ${options.crossCheck} is not one of --types (${types.join(", ")})`);
  const suite = loadSuite(options.suiteDir);
  const source = await resolveModel(spec);
  const sourceTensors = await ggufTensors(source.path);
  const tensorTypes: Record<string, number> = {};
  for (const t of sourceTensors) tensorTypes[t.type] = (tensorTypes[t.type] ?? 0) + 1;
  const threads = spec.runtime.threads === "auto" ? Math.max(1, availableParallelism()) : spec.runtime.threads;

  // 1. Variants, cached by the source's sha256 and the type.
  const dir = quantizeDir(source.sha256);
  mkdirSync(dir, { recursive: true });
  removeStaleScratch(dir);
  const variants: { v: QuantizedVariant; modelId: string; manifest: string }[] = [];
  for (const type of types) {
    const v = await quantizedVariant(source.path, source.sha256, type, threads);
    const modelId = `${spec.id}-${type}`;
    const manifest = writeVariantManifest(dir, modelId, v.path, spec.runtime, `${type} of ${spec.id} (${source.path}, sha256 ${source.sha256})`);
    variants.push({ v, modelId, manifest });
    log(options.quiet, `quantized ${type}: ${(v.sizeBytes / 2 ** 20).toFixed(2)} MiB${v.cached ? " (cached)" : ` in ${Math.round(v.quantizeMs ?? 0)} ms`}${v.shapeFallbacks.length ? `; ${v.shapeFallbacks.length} tensor(s) whose rows the type's blocks cannot split got another type` : ""}`);
  }

  // 2. The suite on the source and every variant: one run.
  const outcome = await runModels(options, [options.modelFile, ...variants.map((x) => x.manifest)]);
  if (outcome.interrupted) return { outcome, file: null };
  const run = loadRun(outcome.dir);

  // 3. Next-token distributions against the source's: each model in its own process, one at a
  // time, so a crash costs that variant's figures and the sweep goes on.
  const runtime = { ...spec.runtime };
  const scratch = join(dir, `reference-${process.pid}.f32`);
  const textsFile = join(dir, `texts-${process.pid}.json`);
  const jobFile = join(dir, `job-${process.pid}.json`);
  const sourceCell = run.summary.cells.find((c) => c.modelId === spec.id);
  const sourceOutputs = new Map(run.records.filter((r) => r.cellId === sourceCell?.cellId).map((r) => [r.taskId, r.output]));
  // Prompts as the run rendered them for the source's (first) cell.
  const sourcePrompt = run.manifest.cells.find((c) => c.modelId === spec.id)?.settings.prompt ?? DEFAULT_PROMPT;
  const divergences = new Map<string, (DivergenceResult & { wallMs: number }) | string>();
  let reference: ReferenceResult & { texts: number; skipped: number; wallMs: number };
  try {
    try {
      const started = performance.now();
      reference = { ...(await runDivergenceJob({ kind: "suite-reference", modelPath: source.path, runtime, suiteDir: options.suiteDir, prompt: sourcePrompt, fallback: Object.fromEntries(sourceOutputs), textsFile, scratch }, jobFile)), wallMs: 0 };
      reference.wallMs = performance.now() - started;
    } catch (error) {
      if (error instanceof StoppedBySignal || options.signal?.aborted) return { outcome: { ...outcome, interrupted: true }, file: null };
      throw new HeldoutError("scoring-failed", `the source's next-token distributions could not be computed (${(error as Error).message}); the suite run is complete in ${outcome.dir}`, { file: options.modelFile });
    }
    log(options.quiet, `reference distributions: ${reference.positions} positions over ${reference.texts} tasks in ${Math.round(reference.ms)} ms${reference.skipped ? ` (${reference.skipped} tasks longer than the context skipped)` : ""}`);
    for (const { v, modelId } of variants) {
      try {
        const started = performance.now();
        const d = await runDivergenceJob({ kind: "compare", modelPath: v.path, runtime, textsFile, scratch, vocabulary: reference.vocabulary }, jobFile);
        // The variant's time includes its scoring process: start, model load, then the scoring itself (d.ms).
        divergences.set(modelId, { ...d, wallMs: performance.now() - started });
        log(options.quiet, `${v.type}: mean KLD ${d.meanKld?.toFixed(5)} ± ${d.meanKldStdErr?.toFixed(5)}, p99 ${d.p99Kld?.toFixed(4)}, top-1 ${d.top1Agreement?.toFixed(4)} (${Math.round(d.ms)} ms)`);
      } catch (error) {
        if (error instanceof StoppedBySignal || options.signal?.aborted) return { outcome: { ...outcome, interrupted: true }, file: null };
        divergences.set(modelId, (error as Error).message);
        log(options.quiet, `${v.type}: no divergence figures: ${(error as Error).message}`);
      }
    }
  } finally {
    for (const f of [scratch, textsFile]) removeScratch(f);
  }

  // 4. llama-perplexity's KLD for one variant, and heldout's over exactly the same windows.
  let crossCheck: CrossCheck | null = null;
  const checked = options.crossCheck ? variants.find((x) => x.v.type === options.crossCheck) : undefined;
  if (checked) {
    const lines = suite.tasks.map((t) => `${promptText(suite, sourcePrompt, t)}${typeof t.expected === "string" || typeof t.expected === "number" ? String(t.expected) : (sourceOutputs.get(t.id) ?? "")}`);
    try {
      crossCheck = await crossCheckKld(source.path, checked.v, lines, runtime, threads, dir, options.quiet);
    } catch (error) {
      if (error instanceof StoppedBySignal || options.signal?.aborted) return { outcome: { ...outcome, interrupted: true }, file: null };
      log(options.quiet, `warning: the llama-perplexity cross-check failed: ${(error as Error).message}`);
    }
  }

  // 5. Rows, frontier, recommendation.
  const compared = compareVariants(run, spec.id, variants.map((x) => x.modelId));
  const rows: SweepRow[] = [
    {
      name: "source",
      sizeBytes: source.sizeBytes,
      divergence: null,
      answerPerplexity: reference.answerPerplexity,
      passRate: compared.base.passRate,
      passRateInterval: compared.base.passRateInterval,
      verdict: null,
      generationTokensPerSecond: compared.base.generationTokensPerSecond.median,
      peakRssBytes: compared.base.peakRssBytes,
    },
    ...variants.map(({ v, modelId }) => {
      const c = compared.variants.find((x) => x.modelId === modelId);
      const found = divergences.get(modelId);
      const d = typeof found === "object" ? found : null;
      return {
        name: v.type,
        sizeBytes: v.sizeBytes,
        divergence: d,
        answerPerplexity: d?.answerPerplexity ?? null,
        passRate: c?.cell.passRate ?? null,
        passRateInterval: c?.cell.passRateInterval ?? null,
        verdict: c?.comparison.overall ?? null,
        generationTokensPerSecond: c?.cell.generationTokensPerSecond.median ?? null,
        peakRssBytes: c?.cell.peakRssBytes ?? null,
      };
    }),
  ];
  // The suite's part of a variant's time: its model load plus generation wall time (every execution of its cells).
  const executions = new RunStore(outcome.dir, true).cells();
  const cellWall = (modelId: string) => {
    const mine = executions.filter((e) => e.modelId === modelId);
    return mine.length ? mine.reduce((a, e) => a + (e.loadMs ?? 0) + (e.generationWallMs ?? 0), 0) : null;
  };
  const file: QuantizationFile = {
    schemaVersion: 1,
    source: { modelId: spec.id, file: source.path, sha256: source.sha256, sizeBytes: source.sizeBytes, tensorTypes },
    suite: { name: suite.name, hash: suite.hash, scoredTasks: reference.texts, positions: reference.positions, skippedTasks: reference.skipped },
    positions: "teacher-forced on each task's prompt (as the run rendered it) and answer (the expected text where the scorer compares with one, else the source's own output): the distribution after the prompt's last token and after every answer token",
    reference: { answerPerplexity: reference.answerPerplexity, answerTokens: reference.answerTokens, ms: reference.wallMs, runMs: cellWall(spec.id) },
    variants: variants.map(({ v, modelId }) => {
      const found = divergences.get(modelId);
      const d = typeof found === "object" ? found : null;
      return { ...v, modelId, divergence: d, divergenceError: typeof found === "string" ? found : null, timings: { quantizeMs: v.quantizeMs, divergenceMs: d?.wallMs ?? null, runMs: cellWall(modelId) } };
    }),
    rows,
    frontier: kldFrontier(rows),
    recommendation: recommendation(rows, suite.name),
    crossCheck,
  };
  writeFileSync(join(outcome.dir, QUANTIZATION_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return { outcome, file };
}

async function crossCheckKld(sourcePath: string, variant: QuantizedVariant, lines: string[], runtime: RuntimeSettings, threads: number, dir: string, quiet: boolean): Promise<CrossCheck> {
  const textFile = join(dir, `crosscheck-${process.pid}.txt`);
  const baseFile = join(dir, `crosscheck-${process.pid}.kld`);
  const scratch = join(dir, `crosscheck-${process.pid}.f32`);
  const windowsFile = join(dir, `crosscheck-${process.pid}.json`);
  const jobFile = join(dir, `crosscheck-job-${process.pid}.json`);
  writeFileSync(textFile, `${lines.join("\n")}\n`);
  const contextSize = Math.min(512, runtime.contextSize);
  const started = performance.now();
  try {
    await writeKldBase(sourcePath, textFile, baseFile, contextSize, threads);
    const lp = await kldAgainstBase(variant.path, baseFile, contextSize, threads);
    const base = readBaseWindows(baseFile);
    const windowRuntime = { ...runtime, contextSize: Math.max(runtime.contextSize, base.contextSize) };
    const same = await runDivergenceJob({ kind: "compare-base", modelPath: variant.path, runtime: windowRuntime, baseFile }, jobFile);
    const sourceSame = await runDivergenceJob({ kind: "compare-base", modelPath: sourcePath, runtime: windowRuntime, baseFile }, jobFile);
    const ref = await runDivergenceJob({ kind: "window-reference", modelPath: sourcePath, runtime: windowRuntime, baseFile, textsFile: windowsFile, scratch }, jobFile);
    const own = await runDivergenceJob({ kind: "compare", modelPath: variant.path, runtime: windowRuntime, textsFile: windowsFile, scratch, vocabulary: ref.vocabulary }, jobFile);
    const difference = Math.abs((same.meanKld ?? Number.NaN) - lp.meanKld);
    const windowGap = runningMeanGap(same.windowMeans, lp.runningMeans, lp.runningErrors);
    const { windowMeans, ...sameReference } = same;
    void windowMeans;
    const agrees = difference <= lp.meanKldError && sourceSame.meanKld !== null && sourceSame.meanKld <= REFERENCE_TOLERANCE;
    const result: CrossCheck = {
      type: variant.type,
      contextSize: base.contextSize,
      windows: base.windows.length,
      positions: same.positions,
      llamaPerplexity: { ...lp, runningMeans: [], runningErrors: [] },
      sameReference,
      difference,
      windowGap,
      referenceAgreement: sourceSame.meanKld,
      heldout: own,
      ownDifference: Math.abs((own.meanKld ?? Number.NaN) - lp.meanKld),
      agrees,
      ms: performance.now() - started,
    };
    log(quiet, `cross-check ${variant.type} over ${result.windows} windows of ${contextSize} tokens: llama-perplexity mean KLD ${lp.meanKld.toFixed(6)} ± ${lp.meanKldError.toFixed(6)}; heldout against its reference ${same.meanKld?.toFixed(6)} (worst window gap ${windowGap?.maxAbsolute.toExponential(2)}), against its own ${own.meanKld?.toFixed(6)}: ${result.agrees ? "agree" : "DISAGREE"}`);
    return result;
  } finally {
    for (const f of [textFile, baseFile, scratch, windowsFile]) removeScratch(f);
  }
}
