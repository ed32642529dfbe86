import { existsSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { LoadTarget } from "../backends/backend.js";
import { HeldoutError } from "../core/errors.js";
import { cosine, graderId, judgePrompt, judgeSettings, parseVerdict, verdictSchema, verdictScore } from "../core/judge.js";
import { sha256Hex } from "../core/canonical.js";
import { specKey } from "../core/rubric.js";
import type { JsonValue, RunRecord, SamplingSettings, ScorerSpec, Task } from "../core/types.js";
import { isGraded } from "../scorers/graded.js";
import { scoreOutput } from "../scorers/index.js";
import { loadModelSpec, resolveModel } from "../store/models.js";
import { MANIFEST_FILE, readJson, RunStore, type GradeLine } from "../store/results.js";
import { loadSuite } from "../store/suite-files.js";
import { EngineHost } from "./host-client.js";
import type { HostRequest, LoglikResult } from "./host-protocol.js";
import { writeSummary, type RunManifest } from "./run.js";

/**
 * The grading phase: scorers that need a model (`judge`, `similarity`, `likelihood`) grade a run's generations
 * after they are all written. One engine host per grading model; each grade is appended to
 * grades.jsonl as it comes, keyed by grader id (the scorer's options, the grading model's sha256
 * and the prompt version) and generation, so grading resumes where it stopped, re-grading with
 * another judge or rubric adds grades beside the old ones, and nothing is ever generated again.
 */

export interface GradeOptions {
  dir: string;
  /** Grade every judge scorer with this model instead of the suite's (`heldout judge --judge`). */
  judge?: string;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface GradeOutcome {
  graders: { id: string; type: string; model: string; graded: number; reused: number; failed: number }[];
}

const GREEDY: SamplingSettings = { temperature: 0, topP: 1, topK: 0, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: 0, stop: [] };
const CHUNK = 64;

/** True when any task of the run's suite is scored by a model. */
export function needsGrading(manifest: RunManifest): boolean {
  if (!manifest.suite?.dir || !existsSync(manifest.suite.dir)) return false;
  const suite = loadSuite(manifest.suite.dir);
  return isGraded(suite.scorer) || suite.tasks.some((t) => isGraded(t.scorer)) || (suite.rubrics ?? []).some((r) => r.criteria.some((c) => c.scorer !== "task" && isGraded(c.scorer)));
}

export async function gradeRun(o: GradeOptions): Promise<GradeOutcome> {
  const manifest = readJson<RunManifest>(join(o.dir, MANIFEST_FILE));
  const suite = loadSuite(manifest.suite.dir);
  if (suite.hash !== manifest.suite.hash) {
    throw new HeldoutError("suite-changed", `the suite changed since this run (sha256 ${manifest.suite.hash.slice(0, 12)}… then, ${suite.hash.slice(0, 12)}… now): its tasks and rubrics are not the ones the run was made for`, { file: manifest.suite.dir });
  }
  const store = new RunStore(o.dir);
  const tasks = new Map(suite.tasks.map((t) => [t.id, t]));
  // Generations to grade, grouped by the scorer spec that grades them.
  const groups = new Map<string, { spec: ScorerSpec; key: string; records: RunRecord[] }>();
  // Rubric criteria graded by a model grade the same way (a spec shared with the main scorer shares its grades).
  const criteria = (suite.rubrics ?? []).flatMap((rubric) => rubric.criteria.map((c) => c.scorer)).filter((c): c is ScorerSpec => c !== "task" && isGraded(c));
  for (const r of store.records()) {
    const task = tasks.get(r.taskId);
    if (!task || r.finishReason === "error") continue;
    const own = task.scorer ?? suite.scorer;
    for (const base of [...(isGraded(own) ? [own] : []), ...criteria]) {
      // --judge regrades the main score only (its grades keep the suite spec's key, which is how the
      // record finds them); a rubric's criteria keep the judges they name.
      const spec = o.judge && base === own && base.type === "judge" ? { ...base, model: o.judge } : base;
      const k = JSON.stringify(spec);
      const group = groups.get(k) ?? { spec, key: specKey(base), records: [] };
      if (!group.records.includes(r)) group.records.push(r);
      groups.set(k, group);
    }
  }
  const done = new Set(store.grades().filter((g) => g.error === null).map((g) => `${g.graderId}\u0000${g.cellId}\u0000${g.taskId}\u0000${g.sample}`));
  const outcome: GradeOutcome = { graders: [] };
  for (const { spec, key, records } of groups.values()) {
    if (o.signal?.aborted) break;
    if (spec.type === "likelihood") {
      await gradeLikelihood(o, manifest, store, spec, key, records, tasks, done, outcome);
      continue;
    }
    const modelFile = locate(String(spec.model), manifest.suite.dir);
    const modelSpec = loadModelSpec(modelFile);
    const resolved = await resolveModel(modelSpec);
    const id = graderId(spec, resolved.sha256);
    const todo = records.filter((r) => !done.has(`${id}\u0000${r.cellId}\u0000${r.taskId}\u0000${r.sample}`));
    const summary = { id, type: spec.type, model: modelSpec.id, graded: 0, reused: records.length - todo.length, failed: 0 };
    outcome.graders.push(summary);
    if (todo.length === 0) continue;
    o.onProgress?.(`grading ${todo.length} generation(s) with ${spec.type} ${modelSpec.id} (${id}); ${summary.reused} already graded`);
    const host = await EngineHost.start();
    try {
      const target: LoadTarget = { backend: modelSpec.backend, runtime: modelSpec.runtime };
      if (resolved.path) target.path = resolved.path;
      if (modelSpec.server) target.server = modelSpec.server;
      await host.load(target);
      const base = { graderId: id, type: spec.type, graderModel: modelSpec.id, graderModelSha256: resolved.sha256, specKey: key };
      const write = (lines: GradeLine[]) => {
        store.appendGrades(lines);
        summary.graded += lines.length;
        summary.failed += lines.filter((l) => l.error !== null).length;
      };
      for (let i = 0; i < todo.length && !o.signal?.aborted; i += CHUNK) {
        const chunk = todo.slice(i, i + CHUNK);
        if (spec.type === "judge") write(await judgeChunk(host, spec, chunk, tasks, base, modelSpec.runtime.contextSize, modelSpec.runtime.threads));
        else write(await similarityChunk(host, spec, chunk, tasks, base));
      }
    } finally {
      await host.close();
    }
  }
  writeSummary(store, manifest);
  return outcome;
}

/** A grading model named in a suite: relative to the working directory, else to the suite folder. */
function locate(file: string, suiteDir: string): string {
  if (isAbsolute(file) || existsSync(file)) return file;
  const near = resolve(suiteDir, file);
  return existsSync(near) ? near : file;
}

type GradeBase = Pick<GradeLine, "graderId" | "type" | "graderModel" | "graderModelSha256" | "specKey">;

async function judgeChunk(host: EngineHost, spec: ScorerSpec, records: RunRecord[], tasks: Map<string, Task>, base: GradeBase, contextSize: number, threads: number | "auto"): Promise<GradeLine[]> {
  const settings = judgeSettings(spec);
  const byKey = new Map<string, { record: RunRecord; prompt: string }>();
  const requests: HostRequest[] = records.map((r, i) => {
    const task = tasks.get(r.taskId) as Task;
    const prompt = judgePrompt(settings, { prompt: r.prompt, output: r.output, ...(task.expected !== undefined ? { expected: task.expected } : {}) });
    const key = String(i);
    byKey.set(key, { record: r, prompt });
    return { key, text: prompt, system: null, chatTemplate: "auto", maxTokens: settings.maxTokens, sampling: GREEDY, timeoutMs: 120_000, jsonSchema: verdictSchema(settings) };
  });
  const lines: GradeLine[] = [];
  await host.generate(requests, { threads, contextSize, flashAttention: false, parallel: 1 }, (items) => {
    for (const item of items) {
      const { record, prompt } = byKey.get(item.key) as { record: RunRecord; prompt: string };
      const g = item.generation;
      const verdict = g.error ? ({ ok: false, error: g.error } as const) : parseVerdict(g.text, settings.scale);
      lines.push({
        ...base,
        cellId: record.cellId,
        taskId: record.taskId,
        sample: record.sample,
        promptSha256: sha256Hex(prompt),
        rubricSha256: sha256Hex(settings.rubric),
        raw: g.error ? null : g.text,
        parsed: verdict.ok ? { score: verdict.score, reason: verdict.reason } : null,
        similarity: null,
        score: verdictScore(verdict, settings),
        error: verdict.ok ? null : verdict.error,
        gradedAt: new Date().toISOString(),
      });
    }
  });
  return lines;
}

async function similarityChunk(host: EngineHost, spec: ScorerSpec, records: RunRecord[], tasks: Map<string, Task>, base: GradeBase): Promise<GradeLine[]> {
  const threshold = typeof spec.threshold === "number" ? spec.threshold : 0.8;
  const expectedOf = (r: RunRecord) => String((tasks.get(r.taskId) as Task).expected as JsonValue);
  const vectors = await host.embed(records.flatMap((r) => [r.output, expectedOf(r)]));
  return records.map((r, i) => {
    const sim = cosine(vectors[2 * i] as number[], vectors[2 * i + 1] as number[]);
    return {
      ...base,
      cellId: r.cellId,
      taskId: r.taskId,
      sample: r.sample,
      promptSha256: null,
      rubricSha256: null,
      raw: null,
      parsed: null,
      similarity: sim,
      score: { pass: sim >= threshold, value: Math.max(0, Math.min(1, sim)), reason: `cosine similarity ${sim.toFixed(3)} to the expected text (pass ≥ ${threshold})` },
      error: null,
      gradedAt: new Date().toISOString(),
    };
  });
}

/**
 * `likelihood`: each cell's own model scores every choice as a continuation of the record's prompt
 * (its exact token ids), one engine host per cell. The pick is the choice with the highest mean
 * log-likelihood per token (`normalise: false`: the highest sum); the grade's `raw` holds every
 * choice's sum, mean and token count, both picks, and what the `choice` scorer says of the
 * generated output, so likelihood- and generation-based scoring of the same task sit side by side.
 */
async function gradeLikelihood(
  o: GradeOptions,
  manifest: RunManifest,
  store: RunStore,
  spec: ScorerSpec,
  key: string,
  records: RunRecord[],
  tasks: Map<string, Task>,
  done: Set<string>,
  outcome: GradeOutcome,
): Promise<void> {
  const choices = Array.isArray(spec.choices) ? spec.choices.map(String) : [];
  const byCell = new Map<string, RunRecord[]>();
  for (const r of records) byCell.set(r.cellId, [...(byCell.get(r.cellId) ?? []), r]);
  for (const [cellId, cellRecords] of byCell) {
    if (o.signal?.aborted) break;
    const cell = manifest.cells.find((c) => c.id === cellId);
    if (!cell) continue;
    const id = graderId(spec, cell.model.sha256);
    const todo = cellRecords.filter((r) => !done.has(`${id}\u0000${r.cellId}\u0000${r.taskId}\u0000${r.sample}`));
    const summary = { id, type: spec.type, model: cell.modelId, graded: 0, reused: cellRecords.length - todo.length, failed: 0 };
    outcome.graders.push(summary);
    if (todo.length === 0) continue;
    o.onProgress?.(`grading ${todo.length} generation(s) of ${cellId} by likelihood (${id}); ${summary.reused} already graded`);
    const backend = cell.modelFile && existsSync(cell.modelFile) ? loadModelSpec(cell.modelFile).backend : "llama";
    const target: LoadTarget = { backend, runtime: cell.runtime, path: cell.model.path };
    const base: GradeBase = { graderId: id, type: spec.type, graderModel: cell.modelId, graderModelSha256: cell.model.sha256, specKey: key };
    const host = await EngineHost.start();
    try {
      await host.load(target);
      for (let i = 0; i < todo.length && !o.signal?.aborted; i += CHUNK) {
        const chunk = todo.slice(i, i + CHUNK);
        const results = await host.loglik(chunk.map((r) => ({ prompt: r.prompt, promptTokenIds: r.promptTokenIds ?? [], continuations: choices })));
        const lines = chunk.map((r, k) => likelihoodLine(spec, choices, r, tasks.get(r.taskId) as Task, results[k] ?? { options: null, error: "no result" }, base));
        store.appendGrades(lines);
        summary.graded += lines.length;
        summary.failed += lines.filter((l) => l.error !== null).length;
      }
    } finally {
      await host.close();
    }
  }
}

export interface LikelihoodOption {
  choice: string;
  /** The text scored after the prompt (the choice with its separating space). */
  text: string;
  sum: number;
  mean: number;
  tokens: number;
  aligned: boolean;
}

/** The highest by `by`; the first listed on a tie. */
export function pickByLikelihood(options: readonly LikelihoodOption[], by: "mean" | "sum"): LikelihoodOption | undefined {
  let best: LikelihoodOption | undefined;
  for (const option of options) if (!best || option[by] > best[by]) best = option;
  return best;
}

const fold = (s: string): string => s.toUpperCase().toLowerCase();

function likelihoodLine(spec: ScorerSpec, choices: string[], r: RunRecord, task: Task, result: LoglikResult, base: GradeBase): GradeLine {
  const expected = String(task.expected as JsonValue);
  const generation = scoreOutput({ type: "choice", choices }, r.output, task.expected);
  const line = { ...base, cellId: r.cellId, taskId: r.taskId, sample: r.sample, promptSha256: sha256Hex(r.prompt), rubricSha256: null, parsed: null, similarity: null, gradedAt: new Date().toISOString() };
  if (result.error !== null) {
    return { ...line, raw: JSON.stringify({ generation }), score: { pass: false, value: 0, reason: `likelihood could not be computed: ${result.error}` }, error: result.error };
  }
  const options: LikelihoodOption[] = result.options.map((o, i) => ({ choice: choices[i] as string, text: o.text, sum: o.logprob, mean: o.logprob / o.tokens, tokens: o.tokens, aligned: o.aligned }));
  const by = spec.normalise === false ? "sum" : "mean";
  const byMean = pickByLikelihood(options, "mean") as LikelihoodOption;
  const bySum = pickByLikelihood(options, "sum") as LikelihoodOption;
  const picked = by === "mean" ? byMean : bySum;
  const other = by === "mean" ? bySum : byMean;
  const pass = fold(picked.choice) === fold(expected);
  const figure = by === "mean" ? `mean ${picked.mean.toFixed(3)}/token` : `sum ${picked.sum.toFixed(3)}`;
  const reason = `likelihood picks ${JSON.stringify(picked.choice)} (${figure}; by ${by === "mean" ? "sum" : "mean"}: ${JSON.stringify(other.choice)})${pass ? "" : `, expected ${JSON.stringify(expected)}`}; generation: ${generation.reason}`;
  const raw = { by, options, picked: { mean: byMean.choice, sum: bySum.choice }, generation };
  return { ...line, raw: JSON.stringify(raw), score: { pass, value: pass ? 1 : 0, reason }, error: null };
}
