import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Backend, GenerationRequest } from "../backends/backend.js";
import { LlamaBackend } from "../backends/llama.js";
import { disposeEngines } from "../backends/llama-engine.js";
import { planCell, sampleSeed, type Cell } from "../core/cells.js";
import { HeldoutError } from "../core/errors.js";
import { measureGeneration } from "../core/measures.js";
import { summarize, type CellExecution, type Summary } from "../core/summary.js";
import { renderTemplate } from "../core/template.js";
import type { Generation, ModelSpec, Profile, RunRecord, Suite, Task } from "../core/types.js";
import { scoreOutput } from "../scorers/index.js";
import { loadModelSpec, resolveModel, type ResolvedModel } from "../store/models.js";
import { loadProfile } from "../store/profiles.js";
import { MANIFEST_FILE, readJson, RunStore, SUMMARY_FILE, writeJsonAtomic } from "../store/results.js";
import { checkFrozen, loadSuite } from "../store/suite-files.js";
import { fingerprint } from "../system/fingerprint.js";
import { startMemorySampler } from "../system/memory.js";
import { createProgress, type Progress } from "./progress.js";

export interface RunOptions {
  suiteDir: string;
  modelFiles: string[];
  profileFile: string;
  runId?: string;
  outDir: string;
  allowUnfrozen: boolean;
  quiet?: boolean;
  argv?: string[];
}

export interface RunManifest {
  schemaVersion: 1;
  runId: string;
  createdAt: string;
  command: string[];
  suite: { name: string; dir: string; hash: string; tasks: number; frozen: boolean; unfrozenReason: string | null };
  profile: Profile;
  cells: (Cell & { modelFile: string | null; model: ResolvedModel })[];
  system: Awaited<ReturnType<typeof fingerprint>>;
}

export interface RunOutcome {
  dir: string;
  summary: Summary;
  manifest: RunManifest;
  resumed: boolean;
}

/**
 * One run: check every input before any model loads, then each cell in turn (load the model once,
 * generate every task × sample, score, append), then the summary from the records on disk. A run
 * directory that already holds this exact plan is resumed: finished records are kept, the rest run.
 */
export async function runBench(options: RunOptions): Promise<RunOutcome> {
  const progress = createProgress(process.stderr, options.quiet);
  const suite = loadSuite(options.suiteDir);
  const frozen = checkFrozen(suite);
  if (frozen.state === "unfrozen" && !options.allowUnfrozen) {
    throw new HeldoutError("suite-unfrozen", `refusing to run suite "${suite.name}": ${frozen.reason}. Re-freeze it (a new suite hash) or pass --allow-unfrozen.`, { file: options.suiteDir });
  }
  if (frozen.state === "unfrozen") progress.note(`warning: running an unfrozen suite: ${frozen.reason}`);
  const profile = loadProfile(options.profileFile);
  const specs = options.modelFiles.map(loadModelSpec);
  const ids = new Map<string, string>();
  for (const s of specs) {
    const other = ids.get(s.id);
    if (other !== undefined) throw new HeldoutError("duplicate-model", `model id "${s.id}" is used by two manifests (${other} and ${s.file})`, { file: s.file, field: "id" });
    ids.set(s.id, s.file ?? s.id);
  }
  const prompts = new Map(suite.tasks.map((t) => [t.id, renderTemplate(suite.promptTemplate, t.vars)]));

  const resolved: ResolvedModel[] = [];
  for (const spec of specs) resolved.push(await resolveModel(spec));
  const cells = specs.map((spec, i) => ({ ...planCell(suite, spec, (resolved[i] as ResolvedModel).sha256, profile), modelFile: spec.file ?? null, model: resolved[i] as ResolvedModel }));

  const runId = options.runId ?? defaultRunId(suite.name);
  const dir = join(options.outDir, runId);
  const resumed = existsSync(join(dir, MANIFEST_FILE));
  let manifest: RunManifest;
  if (resumed) {
    manifest = readJson<RunManifest>(join(dir, MANIFEST_FILE));
    const same = manifest.suite.hash === suite.hash && manifest.cells.map((c) => c.id).join() === cells.map((c) => c.id).join();
    if (!same) {
      throw new HeldoutError("run-exists", `run "${runId}" already exists with a different suite or different cells; choose another --run-id`, { file: join(dir, MANIFEST_FILE) });
    }
  } else {
    manifest = {
      schemaVersion: 1,
      runId,
      createdAt: new Date().toISOString(),
      command: options.argv ?? [],
      suite: { name: suite.name, dir: options.suiteDir, hash: suite.hash, tasks: suite.tasks.length, frozen: frozen.state === "frozen", unfrozenReason: frozen.state === "unfrozen" ? frozen.reason : null },
      profile,
      cells,
      system: await fingerprint(),
    };
  }
  const store = new RunStore(dir);
  if (!resumed) writeJsonAtomic(store.path(MANIFEST_FILE), manifest);

  const done = new Set(store.records().map((r) => `${r.cellId}\u0000${r.taskId}\u0000${r.sample}`));
  try {
    for (let i = 0; i < cells.length; i++) {
      await runCell({ suite, profile, spec: specs[i] as ModelSpec, cell: cells[i] as RunManifest["cells"][number], runId, store, prompts, done, progress });
    }
  } finally {
    await disposeEngines();
  }
  const summary = writeSummary(store, manifest);
  return { dir, summary, manifest, resumed };
}

export function writeSummary(store: RunStore, manifest: RunManifest): Summary {
  const summary = summarize(
    { runId: manifest.runId, suite: { name: manifest.suite.name, hash: manifest.suite.hash, tasks: manifest.suite.tasks }, samples: manifest.profile.samples },
    manifest.cells.map((c) => ({ cellId: c.id, modelId: c.modelId })),
    store.records(),
    store.cells(),
  );
  writeJsonAtomic(store.path(SUMMARY_FILE), summary);
  return summary;
}

interface CellContext {
  suite: Suite;
  profile: Profile;
  spec: ModelSpec;
  cell: RunManifest["cells"][number];
  runId: string;
  store: RunStore;
  prompts: Map<string, string>;
  done: Set<string>;
  progress: Progress;
}

async function runCell(c: CellContext): Promise<void> {
  const { suite, profile, cell } = c;
  const todo: { task: Task; sample: number }[] = [];
  for (const task of suite.tasks)
    for (let sample = 0; sample < profile.samples; sample++)
      if (!c.done.has(`${cell.id}\u0000${task.id}\u0000${sample}`)) todo.push({ task, sample });
  if (todo.length === 0) return;

  const backend: Backend = new LlamaBackend();
  const memory = startMemorySampler(() => backend.vramUsedBytes());
  const execution: CellExecution = { cellId: cell.id, modelId: cell.modelId, loadMs: null, generationWallMs: null, peakRssBytes: null, peakVramBytes: null, backend: {}, error: null };
  c.progress.startCell(cell.modelId, todo.length);
  let finished = 0;
  const write = (task: Task, sample: number, prompt: string, g: Generation) => {
    c.store.appendRecord(toRecord(c, task, sample, prompt, g));
    c.progress.tick(++finished);
  };
  try {
    const loaded = await backend.load(cell.model.path, c.spec.runtime);
    execution.loadMs = loaded.loadMs;
    execution.backend = { kind: backend.kind, runtime: loaded.runtime, engine: loaded.engine, warnings: loaded.warnings };
    const maxTokens = profile.sampling.maxTokens ?? suite.maxTokens;
    const byKey = new Map<string, { task: Task; sample: number; prompt: string }>();
    const requests: GenerationRequest[] = todo.map(({ task, sample }) => {
      const key = `${task.id}\u0000${sample}`;
      const prompt = c.prompts.get(task.id) as string;
      byKey.set(key, { task, sample, prompt });
      return { key, prompt: backend.preparePrompt(prompt, suite.chatTemplate), maxTokens, sampling: { ...profile.sampling, seed: sampleSeed(profile, sample) }, timeoutMs: profile.timeoutMs };
    });
    const batch = await backend.generateAll(requests, profile.parallel, (request, generation) => {
      const item = byKey.get(request.key);
      // The record keeps the text the engine saw: the suite's prompt, wrapped in the chat template if one applied.
      if (item) write(item.task, item.sample, request.prompt.text, generation);
    });
    execution.generationWallMs = batch.wallMs;
  } catch (error) {
    // A model that cannot load costs its own cell, never the run: its remaining tasks are recorded as failed.
    execution.error = (error as Error).message;
    const now = performance.now();
    for (const { task, sample } of todo.slice(finished)) {
      write(task, sample, c.prompts.get(task.id) as string, { text: "", promptTokenIds: [], completionTokens: 0, timings: { startMs: now, endMs: now }, finishReason: "error", error: `model failed: ${execution.error}` });
    }
  } finally {
    const peaks = await memory.stop();
    execution.peakRssBytes = peaks.peakRssBytes;
    execution.peakVramBytes = peaks.peakVramBytes;
    await backend.unload().catch(() => undefined);
  }
  c.store.appendCell(execution);
  c.progress.endCell(execution.error ? `failed: ${execution.error}` : `done, ${finished} generations in ${((execution.generationWallMs ?? 0) / 1000).toFixed(1)} s`);
}

function toRecord(c: CellContext, task: Task, sample: number, prompt: string, g: Generation): RunRecord {
  const m = measureGeneration(g.timings, g.promptTokenIds.length, g.completionTokens);
  const score = g.error
    ? { pass: false, value: 0, reason: `generation failed: ${g.error}` }
    : scoreOutput(task.scorer ?? c.suite.scorer, g.text, task.expected);
  return {
    runId: c.runId,
    cellId: c.cell.id,
    modelId: c.cell.modelId,
    suiteHash: c.suite.hash,
    taskId: task.id,
    area: task.area ?? null,
    sample,
    prompt,
    promptTokenIds: g.promptTokenIds,
    output: g.text,
    promptTokens: g.promptTokenIds.length,
    completionTokens: g.completionTokens,
    finishReason: g.finishReason,
    ttftMs: m.ttftMs,
    latencyMs: m.latencyMs,
    promptTokensPerSecond: m.promptTokensPerSecond,
    generationTokensPerSecond: m.generationTokensPerSecond,
    score,
    error: g.error ?? null,
  };
}

function defaultRunId(suite: string): string {
  const t = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${suite}-${t}-${Math.random().toString(36).slice(2, 6)}`;
}
