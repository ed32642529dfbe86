import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { LoadTarget, PreparedPrompt } from "../backends/backend.js";
import { HeldoutError } from "../core/errors.js";
import { measureGeneration } from "../core/measures.js";
import type { PlannedCell } from "../core/plan.js";
import { promptText } from "../core/prompt.js";
import { abstains, calibration, thresholdOnDev } from "../core/calibration.js";
import { cellCost, type CostProfile } from "../core/cost.js";
import { applyPeopleCriteria, combineRubric, specKey, type Criterion } from "../core/rubric.js";
import type { RunSplit } from "../core/split.js";
import { needsExpected } from "../scorers/index.js";
import { isGraded } from "../scorers/graded.js";
import { summarize, type CellExecution, type Summary } from "../core/summary.js";
import { effectiveRatings, subjectiveQuality } from "../core/subjective.js";
import { readRatings } from "../store/ratings.js";
import type { Generation, ModelSpec, RunRecord, Suite, Task } from "../core/types.js";
import type { ResolvedModel } from "../store/models.js";
import { MANIFEST_FILE, readJson, RECORDS_FILE, RunStore, SUMMARY_FILE, writeJsonAtomic } from "../store/results.js";
import { fingerprint, type Fingerprint } from "../system/fingerprint.js";
import { startPowerMeter, type EnergyReading } from "../system/power.js";
import { findDeterminismCheck, readChecks, type DeterminismCheck, type DeterminismStatus } from "../store/checks.js";
import { EngineHost, HostDied, ModelLoadFailed } from "./host-client.js";
import type { HostRequest } from "./host-protocol.js";
import { AWAITING_GRADING } from "../scorers/graded.js";
import { loadInputs, type LoadedInputs, type RunInputs } from "./inputs.js";
import { gradeRun, needsGrading } from "./grade.js";
import { createProgress, type Progress } from "./progress.js";
import { ScorePool } from "./score-pool.js";

export interface RunOptions extends RunInputs {
  runId?: string;
  outDir: string;
  allowUnfrozen: boolean;
  /** Restarts of a dead engine host for its unfinished cells. */
  retries?: number;
  quiet?: boolean;
  argv?: string[];
  /** Stops the run cleanly (Ctrl-C): in-flight generations are dropped, finished records kept. */
  signal?: AbortSignal;
  /** The part of the suite's sealed split this run uses (its tasks are `taskIds`). */
  split?: RunSplit;
}

export interface RunManifest {
  schemaVersion: 1;
  runId: string;
  createdAt: string;
  command: string[];
  /** What to reload for `heldout run --resume <run-id>`. */
  inputs: RunInputs;
  /** `tasks`: the tasks this run ran; `subsetOf`: the suite's size when that was a subset (reproduce --sample). */
  suite: { name: string; dir: string; hash: string; tasks: number; subsetOf?: number; frozen: boolean; unfrozenReason: string | null };
  profile: { name: string; file: string; description: string; gridSize: number; excluded: number; sample: { n: number; seed: number } | null; swept: string[] };
  /** `determinism`: for cells decoding several sequences together, whether `check determinism` covered that setting. */
  cells: (PlannedCell & { modelFile: string | null; model: ResolvedModel; determinism?: DeterminismStatus | null })[];
  system: Fingerprint;
  /** The cost profile the figures are priced with (run --cost, or heldout cost later). */
  cost?: CostProfile | null;
  /** The sealed split's part this run used (dev, or test/all with --unseal), with the split's own hash. */
  split?: RunSplit;
}

export interface RunOutcome {
  dir: string;
  summary: Summary;
  manifest: RunManifest;
  resumed: boolean;
  interrupted: boolean;
  failedCells: number;
}

const key = (cellId: string, taskId: string, sample: number) => `${cellId}\u0000${taskId}\u0000${sample}`;

/**
 * A run: check and plan everything before any model loads; then for each group of cells that share
 * a model, one engine host (a child process) loads it once and generates every cell's task ×
 * samples; scoring runs in a worker pool; each record is appended as it is scored. A host that
 * dies costs the cells it had not finished (after `retries` restarts), never the run. A run folder
 * that already holds this plan is resumed: finished records are kept and only the rest runs.
 */
export async function runBench(options: RunOptions): Promise<RunOutcome> {
  const progress = createProgress(process.stderr, options.quiet);
  const inputs = await loadInputs(options);
  const { suite, frozen } = inputs;
  const runId = options.runId ?? defaultRunId(suite.name);
  const dir = join(options.outDir, runId);
  const manifestPath = join(dir, MANIFEST_FILE);
  const resumed = existsSync(manifestPath);
  // A resume is checked against what the run started with first: that is the comparison that matters.
  const previous = resumed ? checkResumable(readJson<RunManifest>(manifestPath), inputs, runId) : undefined;
  const allowUnfrozen = options.allowUnfrozen || previous?.suite.frozen === false;
  if (frozen.state === "unfrozen" && !allowUnfrozen) {
    throw new HeldoutError("suite-unfrozen", `refusing to run suite "${suite.name}": ${frozen.reason}. Re-freeze it (a new suite hash) or pass --allow-unfrozen.`, { file: options.suiteDir });
  }
  if (frozen.state === "unfrozen") progress.warn(`warning: running an unfrozen suite: ${frozen.reason}`);
  const manifest = previous ?? (await newManifest(runId, options, inputs));
  if (previous) {
    // Speed figures of one cell must come from one machine: say so when a resume is elsewhere.
    const now = await fingerprint();
    const was = previous.system;
    if (now.cpu.brand !== was.cpu.brand || now.cpu.cores !== was.cpu.cores || now.memory.totalBytes !== was.memory.totalBytes || JSON.stringify(now.gpus) !== JSON.stringify(was.gpus)) {
      progress.warn(`warning: resuming on different hardware (${now.cpu.brand}, ${now.cpu.cores} cores; the run started on ${was.cpu.brand}, ${was.cpu.cores} cores): speed figures of resumed cells mix machines`);
    }
  }
  const store = new RunStore(dir);
  if (!resumed) writeJsonAtomic(store.path(MANIFEST_FILE), manifest);

  // A failed generation (a crashed host, a server that was down, a model that did not load) is
  // tried again on resume; its new record supersedes the failed one (latest per key wins).
  const done = new Set(store.records().filter((r) => r.finishReason !== "error").map((r) => key(r.cellId, r.taskId, r.sample)));
  const executed = new Set(store.cells().filter((c) => c.error === null).map((c) => c.cellId));
  const prompts = new Map<string, string>();
  const promptFor = (cell: PlannedCell, task: Task) => {
    const k = `${cell.settings.prompt.name}\u0000${task.id}`;
    let text = prompts.get(k);
    if (text === undefined) prompts.set(k, (text = promptText(suite, cell.settings.prompt, task)));
    return text;
  };
  const tasks = selectTasks(suite, manifest.inputs.taskIds);
  const totalGenerations = inputs.cells.reduce((n, c) => n + tasks.length * c.settings.samples, 0);
  const tracker = new Tracker(progress, inputs.cells.length, totalGenerations, done.size);
  const pool = new ScorePool();
  let interrupted = false;
  const env = faultEnv();
  // Stops the run from inside: a record that cannot be written (a full disk) must not be lost
  // silently, so the run stops where it is, like Ctrl-C, and says why.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let writeError: Error | undefined;
  const fatal = (error: Error) => {
    writeError ??= error;
    stop.abort();
  };
  try {
    for (const group of groupCells(inputs.cells)) {
      if (signal.aborted) break;
      const model = inputs.resolved.get(group[0]?.modelId as string) as ResolvedModel;
      const spec = inputs.specs.find((s) => s.id === group[0]?.modelId) as ModelSpec;
      const outcome = await runGroup({ group, model, spec, suite, tasks, store, done, executed, pool, tracker, promptFor, retries: options.retries ?? 0, signal, fatal, env: env(group[0]?.modelId as string) });
      if (outcome === "interrupted") interrupted = true;
    }
    if (signal.aborted) interrupted = true;
  } finally {
    await pool.close();
    tracker.finish();
  }
  if (writeError) {
    throw new HeldoutError(
      "write-failed",
      `could not write a record (${writeError.message}); the run stopped, and every record written before is kept. Free space, then resume with: heldout run --resume ${runId}${options.outDir === "results" ? "" : ` --out ${options.outDir}`}`,
      { file: store.path("records.jsonl") },
      74,
    );
  }
  // Scorers that need a model (judge, similarity) grade once every generation is written.
  if (!interrupted && needsGrading(manifest)) {
    try {
      await gradeRun({ dir, signal, onProgress: (m) => progress.note(m) });
    } catch (error) {
      progress.warn(`warning: grading failed (${(error as Error).message.split("\n")[0]}); the generations are kept: grade them with \`heldout judge ${runId}\``);
    }
  }
  const summary = writeSummary(store, manifest);
  // A cell that is neither complete nor failed after an uninterrupted run is a problem too.
  const failedCells = summary.cells.filter((c) => c.status === "failed" || (!interrupted && c.status === "incomplete")).length;
  return { dir, summary, manifest, resumed, interrupted, failedCells };
}

async function newManifest(runId: string, options: RunOptions, inputs: LoadedInputs): Promise<RunManifest> {
  const { suite, frozen, sweep } = inputs;
  const specFile = new Map(inputs.specs.map((s) => [s.id, s.file ?? null]));
  const checks = readChecks(options.outDir);
  return {
    schemaVersion: 1,
    runId,
    createdAt: new Date().toISOString(),
    command: options.argv ?? [],
    inputs: {
      suiteDir: options.suiteDir,
      modelFiles: inputs.specs.map((s) => s.file ?? s.id),
      profileFile: options.profileFile,
      ...(options.engine ? { engine: options.engine } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.taskIds ? { taskIds: options.taskIds } : {}),
      ...(options.costFile ? { costFile: options.costFile } : {}),
    },
    suite: {
      name: suite.name,
      dir: options.suiteDir,
      hash: suite.hash,
      tasks: selectTasks(suite, options.taskIds).length,
      ...(options.taskIds ? { subsetOf: suite.tasks.length } : {}),
      frozen: frozen.state === "frozen",
      unfrozenReason: frozen.state === "unfrozen" ? frozen.reason : null,
    },
    profile: { name: sweep.name, file: sweep.file, description: sweep.description, gridSize: inputs.gridSize, excluded: inputs.excluded, sample: sweep.sample, swept: inputs.swept },
    cells: inputs.cells.map((c) => ({ ...c, modelFile: specFile.get(c.modelId) ?? null, model: inputs.resolved.get(c.modelId) as ResolvedModel, determinism: determinismStatus(checks, c) })),
    system: await fingerprint(),
    cost: inputs.cost,
    ...(options.split ? { split: options.split } : {}),
  };
}

/** A resume must run exactly the plan it started: same suite content, same model files, same cells. */
function checkResumable(manifest: RunManifest, inputs: LoadedInputs, runId: string): RunManifest {
  const file = join(runId, MANIFEST_FILE);
  const refuse = (why: string) => {
    throw new HeldoutError("run-exists", `run "${runId}" cannot be resumed: ${why}; choose another --run-id for a new run`, { file });
  };
  const splitNow = inputs.frozen.state === "frozen" ? inputs.frozen.lock.split?.hash : undefined;
  if (manifest.split && manifest.split.hash !== splitNow) refuse(`the suite's sealed split changed (split hash ${manifest.split.hash.slice(0, 12)}… then, ${splitNow ? `${splitNow.slice(0, 12)}…` : "none"} now)`);
  if (manifest.suite.hash !== inputs.suite.hash) refuse(`the suite's content changed (hash ${manifest.suite.hash.slice(0, 12)}… then, ${inputs.suite.hash.slice(0, 12)}… now)`);
  for (const c of manifest.cells) {
    const now = inputs.resolved.get(c.modelId);
    if (now && now.sha256 !== c.model.sha256) refuse(`model "${c.modelId}" is a different file now (sha256 ${c.model.sha256.slice(0, 12)}… then, ${now.sha256.slice(0, 12)}… now)`);
  }
  const was = manifest.cells.map((c) => c.id).join();
  const is = inputs.cells.map((c) => c.id).join();
  if (was !== is) refuse("it was started with different models or settings");
  return manifest;
}

export function writeSummary(store: RunStore, manifest: RunManifest): Summary {
  // People's ratings of this run (heldout rate), if any: rubric criteria of type "people" and the subjective figures.
  const ratings = readRatings(store.dir).lines.filter((l) => l.runId === manifest.runId);
  const rated = new Map<string, number[]>();
  for (const r of effectiveRatings(ratings)) if (r.mode === "score") rated.set(`${r.cellId}\u0000${r.taskId}\u0000${r.sample}`, [...(rated.get(`${r.cellId}\u0000${r.taskId}\u0000${r.sample}`) ?? []), r.score]);
  const records = applyPeopleCriteria(store.scoredRecords(), (cell, task, sample) => {
    const scores = rated.get(`${cell}\u0000${task}\u0000${sample}`);
    return scores?.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null;
  });
  const awaiting = records.filter((r) => r.score.reason.startsWith(AWAITING_GRADING)).length;
  const summary = summarize(
    { runId: manifest.runId, suite: { name: manifest.suite.name, hash: manifest.suite.hash, tasks: manifest.suite.tasks } },
    manifest.cells.map((c) => ({ cellId: c.id, modelId: c.modelId, label: c.label, samples: c.settings.samples })),
    records,
    store.cells(),
    [
      ...determinismWarnings(manifest.cells),
      ...(awaiting ? [`${awaiting} generation(s) await grading by a model (judge or similarity) and count as failed until graded: heldout judge ${manifest.runId}`] : []),
    ],
  );
  if (manifest.cost) priceCells(summary, manifest, store.cells());
  // A sealed split's test run: "confident" is the level chosen on the dev run(s) its settings came from.
  for (const id of manifest.split?.chosenOn ?? []) {
    const devDir = join(dirname(resolve(store.dir)), id);
    if (!existsSync(join(devDir, RECORDS_FILE))) continue;
    const dev = new RunStore(devDir, true).scoredRecords();
    for (const c of summary.cells) {
      const t = thresholdOnDev(dev.filter((r) => r.cellId === c.cellId));
      if (t !== null && c.calibration) c.calibration = calibration(records.filter((r) => r.cellId === c.cellId), t, `chosen on dev run ${id}: the lowest confidence above which 95% of its answers are right`);
    }
    break;
  }
  if (ratings.length > 0) summary.subjective = subjectiveQuality(ratings, summary.cells);
  writeJsonAtomic(store.path(SUMMARY_FILE), summary);
  return summary;
}

/** Each cell's cost under the manifest's cost profile (see core/cost.ts). */
function priceCells(summary: Summary, manifest: RunManifest, executions: readonly CellExecution[]): void {
  const profile = manifest.cost as CostProfile;
  for (const c of summary.cells) {
    const mine = executions.filter((e) => e.cellId === c.cellId);
    const timed = mine.filter((e) => e.generationWallMs !== null);
    const sum = (pick: (e: CellExecution) => number | null | undefined) => {
      const values = mine.map(pick).filter((v): v is number => typeof v === "number");
      return values.length ? values.reduce((a, b) => a + b, 0) : null;
    };
    const api = mine.some((e) => e.backend.kind === "outputs") || profile.apiModels.includes(c.modelId);
    c.cost = cellCost(profile, {
      modelId: c.modelId,
      priced: api ? "api" : "local",
      generations: c.n,
      passed: c.passed,
      promptTokens: c.tokens.prompt,
      completionTokens: c.tokens.completion,
      wallMs: timed.length ? timed.reduce((s, e) => s + (e.generationWallMs as number), 0) : null,
      measuredJoules: { cpu: sum((e) => e.energy?.cpuJoules), gpu: sum((e) => e.energy?.gpuJoules) },
    });
  }
}

/** What the checks file says about a cell's parallel setting (null for one sequence: nothing to check). */
function determinismStatus(checks: readonly DeterminismCheck[], cell: PlannedCell): DeterminismStatus | null {
  if (cell.settings.parallel <= 1) return null;
  const found = findDeterminismCheck(checks, cell.modelSha256, cell.settings.parallel);
  if (!found) return { checked: false };
  const { runId, checkedAt, compared, differing, differingShare, passToFail, failToPass, baseline, variant } = found;
  return { checked: true, runId, checkedAt, compared, differing, differingShare, passToFail, failToPass, baseline, variant };
}

/** The summary's warnings about parallel settings never checked, or checked and found to change outputs. */
export function determinismWarnings(cells: RunManifest["cells"]): string[] {
  const warnings: string[] = [];
  for (const c of cells) {
    const d = c.determinism;
    if (!d) continue;
    const where = c.modelFile ?? c.modelId;
    if (!d.checked) {
      warnings.push(`${c.id} decodes ${c.settings.parallel} sequences together, a setting not checked on this model: greedy outputs can differ from one sequence at a time. Check it: heldout check determinism --model ${where} --parallel ${c.settings.parallel}`);
    } else if (d.differing > 0) {
      warnings.push(`${c.id}: at ${c.settings.parallel} parallel sequences, ${d.differing} of ${d.compared} greedy outputs differed from one sequence (${d.passToFail + d.failToPass} changed the verdict) in check ${d.runId}`);
    }
  }
  return warnings;
}

/** The suite's tasks, or those of `ids` in suite order. */
function selectTasks(suite: Suite, ids: readonly string[] | undefined): Task[] {
  if (!ids) return suite.tasks;
  const wanted = new Set(ids);
  return suite.tasks.filter((t) => wanted.has(t.id));
}

function groupCells(cells: readonly PlannedCell[]): PlannedCell[][] {
  const groups = new Map<string, PlannedCell[]>();
  for (const c of cells) {
    const g = groups.get(c.hostKey);
    if (g) g.push(c);
    else groups.set(c.hostKey, [c]);
  }
  return [...groups.values()];
}

/** Test-only: HELDOUT_TEST_HOST_ABORT="<model id>:<n>" makes that model's host abort after n results. */
function faultEnv(): (modelId: string) => Record<string, string> {
  const spec = process.env.HELDOUT_TEST_HOST_ABORT;
  let fired = false;
  return (modelId): Record<string, string> => {
    const [id, n] = spec?.split(":") ?? [];
    if (id !== modelId || !n || fired) return {};
    fired = true; // a restarted host (--retries) runs without the fault
    return { HELDOUT_TEST_HOST_ABORT_AFTER: n };
  };
}

interface GroupContext {
  group: PlannedCell[];
  model: ResolvedModel;
  spec: ModelSpec;
  suite: Suite;
  /** The tasks to run (the suite's, or a subset). */
  tasks: Task[];
  store: RunStore;
  done: Set<string>;
  /** Cells with an execution line in cells.jsonl. */
  executed: Set<string>;
  pool: ScorePool;
  tracker: Tracker;
  promptFor: (cell: PlannedCell, task: Task) => string;
  retries: number;
  signal: AbortSignal;
  fatal: (error: Error) => void;
  env: Record<string, string>;
}

async function runGroup(g: GroupContext): Promise<"done" | "interrupted"> {
  const todoOf = (cell: PlannedCell) => {
    const todo: { task: Task; sample: number }[] = [];
    for (const task of g.tasks)
      for (let sample = 0; sample < cell.settings.samples; sample++) if (!g.done.has(key(cell.id, task.id, sample))) todo.push({ task, sample });
    return todo;
  };
  // A cell whose records are all there but whose execution line is not (killed between the two
  // writes) gets a line without figures, so it reads as completed rather than forever incomplete.
  const closeComplete = (cell: PlannedCell) => {
    if (!g.executed.has(cell.id)) appendExecution(g, { ...emptyExecution(g, cell), backend: { kind: g.spec.backend, note: "records completed in an earlier execution" } });
    g.tracker.cellDone(cell.id);
  };
  if (g.group.every((c) => todoOf(c).length === 0)) {
    g.group.forEach(closeComplete);
    return "done";
  }
  const label = g.group[0]?.modelId as string;
  for (let attempt = 0; ; attempt++) {
    let host: EngineHost | undefined;
    const onAbort = () => host?.abort();
    g.signal.addEventListener("abort", onAbort);
    try {
      host = await EngineHost.start(attempt === 0 ? g.env : {});
      g.tracker.note(`${label}: loading${attempt > 0 ? ` (restart ${attempt} of ${g.retries})` : ""}`);
      const target: LoadTarget = { backend: g.spec.backend, runtime: g.group[0]?.runtime as PlannedCell["runtime"] };
      if (g.model.path) target.path = g.model.path;
      if (g.spec.server) target.server = g.spec.server;
      const loaded = await host.load(target);
      for (const cell of g.group) {
        const todo = todoOf(cell);
        if (todo.length === 0) {
          closeComplete(cell);
          continue;
        }
        if (g.signal.aborted) return "interrupted";
        const aborted = await runCell(g, host, cell, todo, loaded);
        if (aborted) return "interrupted";
        g.tracker.cellDone(cell.id);
      }
      await host.close();
      host = undefined;
      return "done";
    } catch (error) {
      if (g.signal.aborted) return "interrupted";
      const died = error instanceof HostDied;
      if (died && attempt < g.retries) {
        g.tracker.warn(`${label}: ${error.message.split("\n")[0]}; restarting it for its unfinished cells`);
        continue;
      }
      // The host cannot go on: every unfinished generation of this group becomes a failed record.
      const message = died ? error.message : error instanceof ModelLoadFailed ? `model failed to load: ${error.message}` : (error as Error).message;
      g.tracker.warn(`${label}: ${message.split("\n")[0]}`);
      for (const cell of g.group) {
        const todo = todoOf(cell);
        if (todo.length === 0) closeComplete(cell);
        else {
          await failCell(g, cell, todo, message);
          g.tracker.cellDone(cell.id);
        }
      }
      return "done";
    } finally {
      g.signal.removeEventListener("abort", onAbort);
      // Interrupted, failed or dead: a host that was not closed cleanly must not outlive its run.
      host?.kill();
    }
  }
}

async function runCell(
  g: GroupContext,
  host: EngineHost,
  cell: PlannedCell,
  todo: { task: Task; sample: number }[],
  loaded: Awaited<ReturnType<EngineHost["load"]>>,
): Promise<boolean> {
  const items = new Map<string, { task: Task; sample: number }>();
  const requests: HostRequest[] = todo.map(({ task, sample }) => {
    const k = `${task.id}\u0000${sample}`;
    items.set(k, { task, sample });
    return {
      key: k,
      taskId: task.id,
      sample,
      text: g.promptFor(cell, task),
      system: cell.settings.prompt.system,
      chatTemplate: g.suite.chatTemplate,
      maxTokens: cell.maxTokens,
      sampling: { ...cell.settings.sampling, seed: cell.settings.sampling.seed + sample },
      timeoutMs: cell.settings.timeoutMs,
    };
  });
  const writes: Promise<void>[] = [];
  let generations = 0;
  let completionTokens = 0;
  let batch: Awaited<ReturnType<EngineHost["generate"]>>;
  const meter = startPowerMeter();
  let energy: EnergyReading | undefined;
  try {
    batch = await host.generate(requests, { ...contextOf(cell) }, (results) => {
      const known = results.flatMap((r) => {
        const item = items.get(r.key);
        return item ? [{ ...item, prompt: r.prompt, generation: r.generation }] : [];
      });
      generations += known.length;
      completionTokens += known.reduce((s, r) => s + r.generation.completionTokens, 0);
      writes.push(scoreAndWrite(g, cell, known).catch((error: unknown) => g.fatal(error as Error)));
    });
  } finally {
    // Results already received are recorded before anything else happens (a dead host's
    // failure records must not race them).
    await Promise.allSettled(writes);
    energy = await meter.stop();
  }
  if (batch.aborted) return true;
  // For a model on a server the host process's memory is heldout's own, not the model's; outputs
  // read from a file were neither loaded nor generated here.
  const external = g.spec.server !== undefined || g.spec.backend === "outputs";
  const execution: CellExecution = {
    cellId: cell.id,
    modelId: cell.modelId,
    loadMs: g.spec.backend === "outputs" ? null : loaded.info.loadMs,
    generationWallMs: g.spec.backend === "outputs" ? null : batch.wallMs,
    generations,
    completionTokens,
    peakRssBytes: external ? null : Math.max(batch.memory.peakRssBytes, loaded.memory.peakRssBytes),
    peakVramBytes: external ? null : (batch.memory.peakVramBytes ?? loaded.memory.peakVramBytes),
    backend: { kind: g.spec.backend, pid: host.pid ?? null, model: loaded.info.runtime, context: batch.context, engine: loaded.info.engine, warnings: loaded.info.warnings },
    ...(external || !energy ? {} : { energy }),
    error: null,
  };
  appendExecution(g, execution);
  return false;
}

function emptyExecution(g: GroupContext, cell: PlannedCell): CellExecution {
  return { cellId: cell.id, modelId: cell.modelId, loadMs: null, generationWallMs: null, generations: 0, completionTokens: 0, peakRssBytes: null, peakVramBytes: null, backend: { kind: g.spec.backend }, error: null };
}

function appendExecution(g: GroupContext, execution: CellExecution): void {
  g.store.appendCell(execution);
  if (execution.error === null) g.executed.add(execution.cellId);
}

function contextOf(cell: PlannedCell) {
  const r = cell.runtime;
  return {
    threads: r.threads,
    contextSize: r.contextSize,
    flashAttention: r.flashAttention,
    parallel: cell.settings.parallel,
    ...(r.batchSize ? { batchSize: r.batchSize } : {}),
    ...(r.kvCacheType ? { kvCacheType: r.kvCacheType } : {}),
  };
}

/** Scores a batch of results off-thread, then appends their records in one write. */
async function scoreAndWrite(g: GroupContext, cell: PlannedCell, results: { task: Task; sample: number; prompt: PreparedPrompt; generation: Generation }[]): Promise<void> {
  const scorable = results.filter((r) => !r.generation.error);
  const own = (task: Task) => task.scorer ?? g.suite.scorer;
  // The main score, then every rubric criterion, all in one batch through the scoring pool.
  const criteria = (g.suite.rubrics ?? []).flatMap((rubric) => rubric.criteria.map((c) => ({ rubric, c })));
  const criterionTask = (c: Criterion, task: Task, output: string) =>
    c.scorer === "task"
      ? { spec: own(task), output, expected: task.expected }
      : { spec: c.scorer, output, expected: c.expected !== undefined ? c.expected : needsExpected(c.scorer.type) ? task.expected : undefined };
  const tasks = scorable.flatMap((r) => [{ spec: own(r.task), output: r.generation.text, expected: r.task.expected }, ...criteria.map(({ c }) => criterionTask(c, r.task, r.generation.text))]);
  const scores = await g.pool.score(tasks);
  const per = 1 + criteria.length;
  const byResult = new Map(scorable.map((r, i) => [r, scores.slice(i * per, (i + 1) * per)]));
  const records = results.map((r) => {
    const got = byResult.get(r);
    const record = toRecord(g.store.dir, g.suite, cell, r.task, r.sample, r.prompt.text, r.generation, got?.[0] ?? { pass: false, value: 0, reason: `generation failed: ${r.generation.error}` });
    if (isGraded(own(r.task))) record.gradedSpec = specKey(own(r.task));
    if (!r.generation.error) record.abstained = abstains(record.output, g.suite.abstain);
    if (g.suite.rubrics?.length) {
      let at = 1;
      record.rubrics = Object.fromEntries(
        g.suite.rubrics.map((rubric) => {
          const mine = got ? got.slice(at, (at += rubric.criteria.length)) : rubric.criteria.map(() => ({ pass: false, value: 0, reason: "generation failed" }));
          return [rubric.name, combineRubric(rubric, mine, isGraded)];
        }),
      );
    }
    return record;
  });
  g.store.appendRecords(records);
  for (const record of records) {
    g.done.add(key(cell.id, record.taskId, record.sample));
    g.tracker.record(record);
  }
}

async function failCell(g: GroupContext, cell: PlannedCell, todo: { task: Task; sample: number }[], message: string): Promise<void> {
  const now = performance.now();
  for (const { task, sample } of todo) {
    const text = g.promptFor(cell, task);
    const gen: Generation = { text: "", promptTokenIds: [], completionTokens: 0, timings: { startMs: now, endMs: now }, finishReason: "error", error: message };
    const record = toRecord(g.store.dir, g.suite, cell, task, sample, text, gen, { pass: false, value: 0, reason: `generation failed: ${message.split("\n")[0]}` });
    g.store.appendRecord(record);
    g.done.add(key(cell.id, task.id, sample));
    g.tracker.record(record);
  }
  appendExecution(g, { ...emptyExecution(g, cell), error: message });
}

function toRecord(dir: string, suite: Suite, cell: PlannedCell, task: Task, sample: number, prompt: string, g: Generation, score: RunRecord["score"]): RunRecord {
  const m = g.untimed ? { ttftMs: null, latencyMs: null, promptTokensPerSecond: null, generationTokensPerSecond: null } : measureGeneration(g.timings, g.promptTokens ?? g.promptTokenIds.length, g.completionTokens);
  return {
    runId: dir.split(/[\\/]/).pop() as string,
    cellId: cell.id,
    modelId: cell.modelId,
    suiteHash: suite.hash,
    taskId: task.id,
    area: task.area ?? null,
    sample,
    prompt,
    promptTokenIds: g.promptTokenIds,
    output: g.text,
    promptTokens: g.promptTokens ?? g.promptTokenIds.length,
    completionTokens: g.completionTokens,
    finishReason: g.finishReason,
    ttftMs: m.ttftMs,
    latencyMs: m.latencyMs,
    promptTokensPerSecond: m.promptTokensPerSecond,
    generationTokensPerSecond: m.generationTokensPerSecond,
    score,
    error: g.error ?? null,
    errorKind: g.errorKind ?? (g.finishReason === "timeout" ? "timeout" : g.error ? "engine" : null),
    endpoint: g.endpoint ?? null,
    attempts: g.attempts ?? 1,
    serverTimings: g.serverTimings ?? null,
    ...(g.tokenLogprobs?.length ? { confidence: { meanLogprob: g.tokenLogprobs.reduce((a, b) => a + b, 0) / g.tokenLogprobs.length, minLogprob: Math.min(...g.tokenLogprobs), tokens: g.tokenLogprobs.length } } : {}),
  };
}

/** Run-wide progress: cells, generations, pass rate so far, live tokens/s, ETA. */
class Tracker {
  private readonly finishedCells = new Set<string>();
  private generations: number;
  private passed = 0;
  private scored = 0;
  private readonly startedAt = performance.now();
  private readonly startedWith: number;
  private window: { t: number; tokens: number }[] = [];

  constructor(
    private readonly progress: Progress,
    private readonly cells: number,
    private readonly total: number,
    already: number,
  ) {
    this.generations = already;
    this.startedWith = already;
    progress.start(total);
  }

  get cellsDone(): number {
    return this.finishedCells.size;
  }

  /** Idempotent: a cell counted once even when a restarted host passes it again. */
  cellDone(cellId: string): void {
    this.finishedCells.add(cellId);
  }

  record(r: RunRecord): void {
    this.generations++;
    this.scored++;
    if (r.score.pass) this.passed++;
    const now = performance.now();
    this.window.push({ t: now, tokens: r.completionTokens });
    while (this.window.length > 0 && now - (this.window[0] as { t: number }).t > 5000) this.window.shift();
    const span = this.window.length > 1 ? (now - (this.window[0] as { t: number }).t) / 1000 : 0;
    const tokensPerSecond = span > 0 ? this.window.reduce((s, w) => s + w.tokens, 0) / span : null;
    const ranHere = this.generations - this.startedWith;
    const elapsed = (now - this.startedAt) / 1000;
    const eta = ranHere > 0 ? (elapsed / ranHere) * (this.total - this.generations) : null;
    this.progress.update({ cellsDone: this.cellsDone, cells: this.cells, generations: this.generations, total: this.total, passRate: this.passed / this.scored, tokensPerSecond, etaSeconds: eta });
  }

  note(message: string): void {
    this.progress.note(message);
  }

  warn(message: string): void {
    this.progress.warn(message);
  }

  finish(): void {
    this.progress.finish(`${this.cellsDone}/${this.cells} cells, ${this.generations}/${this.total} generations in ${((performance.now() - this.startedAt) / 1000).toFixed(1)} s`);
  }
}

function defaultRunId(suite: string): string {
  const t = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${suite}-${t}-${Math.random().toString(36).slice(2, 6)}`;
}
