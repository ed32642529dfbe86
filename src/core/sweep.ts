import { FieldReader, isRecord, parseConfig, Problems, describe, type ConfigDoc } from "./config-doc.js";
import { createRng } from "../stats/random.js";
import { templateVariables } from "./template.js";
import type { RuntimeSettings, SamplingSettings } from "./types.js";

/**
 * Sweep profiles: any setting may be a list, and a run is the cartesian product of models ×
 * prompt variants × sampling settings × runtime settings, minus `exclude` rules, optionally a
 * seeded random `sample` of that grid. Parsing and expansion are pure.
 */

export interface PromptVariant {
  name: string;
  /** Replaces the suite's prompt template when set. */
  template: string | null;
  /** A system message: sent as such through a chat template, else written before the prompt. */
  system: string | null;
  /** Solved examples from the suite (the first N by id, never the task itself) before the prompt. */
  fewShot: number;
  /** Between an example's prompt and its answer (default none: the answer continues the prompt). */
  answerSeparator: string;
  /** Between examples, and before the task's own prompt (default a newline). */
  exampleSeparator: string;
}

/** Runtime settings a profile may set (and sweep) over the model manifests' own. */
export type RuntimeOverrides = Partial<Pick<RuntimeSettings, "threads" | "contextSize" | "batchSize" | "gpuLayers" | "flashAttention" | "kvCacheType" | "engine">>;

/** One point of the grid, without the model. */
export interface CellSettings {
  prompt: PromptVariant;
  sampling: SamplingSettings;
  samples: number;
  parallel: number;
  timeoutMs: number;
  runtime: RuntimeOverrides;
}

export type ExcludeRule = Record<string, unknown>;

export interface Sweep {
  name: string;
  file: string;
  description: string;
  /** Model manifests named by the profile (used when the command line names none). */
  models: string[];
  /** Every combination of the profile's values, in a fixed order (first field varies slowest). */
  points: CellSettings[];
  exclude: ExcludeRule[];
  sample: { n: number; seed: number } | null;
}

export const DEFAULT_SAMPLING: SamplingSettings = {
  temperature: 0,
  topP: 1,
  topK: 0,
  minP: 0,
  repeatPenalty: 1,
  repeatLastN: 64,
  seed: 42,
  stop: [],
};

export const DEFAULT_PROMPT: PromptVariant = { name: "suite", template: null, system: null, fewShot: 0, answerSeparator: "", exampleSeparator: "\n" };

const PROFILE_FIELDS = ["name", "description", "sampling", "samples", "parallel", "timeoutMs", "runtime", "prompts", "models", "exclude", "sample", "seed"] as const;
const SAMPLING_FIELDS = ["temperature", "topP", "topK", "minP", "repeatPenalty", "repeatLastN", "seed", "maxTokens", "stop"] as const;
const RUNTIME_FIELDS = ["threads", "contextSize", "batchSize", "gpuLayers", "flashAttention", "kvCacheType", "engine"] as const;
const PROMPT_FIELDS = ["name", "template", "system", "fewShot", "answerSeparator", "exampleSeparator"] as const;
export const KV_CACHE_TYPES = ["f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl"] as const;

/** Short names an `exclude` rule may use, each the path of one setting. */
export const SETTING_PATHS: Record<string, string> = {
  model: "model",
  prompt: "prompt.name",
  ...Object.fromEntries(SAMPLING_FIELDS.map((f) => [f, `sampling.${f}`])),
  ...Object.fromEntries(RUNTIME_FIELDS.map((f) => [f, `runtime.${f}`])),
  samples: "samples",
  parallel: "parallel",
  timeoutMs: "timeoutMs",
};

export function parseSweep(file: string, text: string): Sweep {
  const problems = new Problems("invalid-profile");
  const doc = parseConfig(file, text);
  const value = doc.value ?? {};
  if (!isRecord(value)) {
    problems.add("a profile must be a mapping of fields", { file, line: 1 });
    problems.throwIfAny();
  }
  const r = new FieldReader(doc, value as Record<string, unknown>, [], problems);
  r.rejectUnknown(PROFILE_FIELDS);

  const s = r.child("sampling");
  s?.rejectUnknown(SAMPLING_FIELDS);
  const d = DEFAULT_SAMPLING;
  const num = (key: string, fallback: number, check: { min?: number; max?: number; integer?: boolean }) =>
    s ? s.axis(key, (x, k) => x.number(k, fallback, check), fallback) : [fallback];
  const samplingAxes = {
    temperature: num("temperature", d.temperature, { min: 0 }),
    topP: num("topP", d.topP, { min: 0, max: 1 }),
    topK: num("topK", d.topK, { min: 0, integer: true }),
    minP: num("minP", d.minP, { min: 0, max: 1 }),
    repeatPenalty: num("repeatPenalty", d.repeatPenalty, { min: 0 }),
    repeatLastN: num("repeatLastN", d.repeatLastN, { min: 0, integer: true }),
    seed: num("seed", d.seed, { min: 0, integer: true }),
    maxTokens: s?.has("maxTokens") ? s.axis<number | undefined>("maxTokens", (x, k) => x.number(k, undefined, { min: 1, integer: true }), undefined) : [undefined],
    stop: readStopAxis(s),
  };

  const top = {
    samples: r.axis("samples", (x, k) => x.number(k, 1, { min: 1, integer: true }), 1),
    parallel: r.axis("parallel", (x, k) => x.number(k, 1, { min: 1, max: 256, integer: true }), 1),
    timeoutMs: r.axis("timeoutMs", (x, k) => x.number(k, 120_000, { min: 1 }), 120_000),
  };

  const rt = r.child("runtime");
  rt?.rejectUnknown(RUNTIME_FIELDS);
  const runtimeAxes: { [K in keyof RuntimeOverrides]-?: (RuntimeOverrides[K] | undefined)[] } = {
    threads: rt?.has("threads") ? rt.axis<number | "auto" | undefined>("threads", (x, k) => readAutoInt(x, k, ["auto"]) as number | "auto" | undefined, undefined) : [undefined],
    contextSize: rt?.has("contextSize") ? rt.axis<number | undefined>("contextSize", (x, k) => x.number(k, undefined, { min: 16, integer: true }), undefined) : [undefined],
    batchSize: rt?.has("batchSize") ? rt.axis<number | undefined>("batchSize", (x, k) => x.number(k, undefined, { min: 1, integer: true }), undefined) : [undefined],
    gpuLayers: rt?.has("gpuLayers") ? rt.axis<RuntimeSettings["gpuLayers"] | undefined>("gpuLayers", (x, k) => readAutoInt(x, k, ["auto", "max"]) as RuntimeSettings["gpuLayers"] | undefined, undefined) : [undefined],
    flashAttention: rt?.has("flashAttention") ? rt.axis<boolean | undefined>("flashAttention", (x, k) => x.boolean(k, false), undefined) : [undefined],
    kvCacheType: rt?.has("kvCacheType") ? rt.axis<string | undefined>("kvCacheType", (x, k) => x.oneOf(k, KV_CACHE_TYPES, "f16"), undefined) : [undefined],
    engine: rt?.has("engine") ? rt.axis<RuntimeSettings["engine"] | undefined>("engine", (x, k) => x.oneOf(k, ["embedded", "llama-server"] as const, "embedded"), undefined) : [undefined],
  };

  const prompts = readPrompts(doc, r, problems);
  const models = r.stringList("models", []);
  const exclude = readExclude(r);
  let sample: Sweep["sample"] = null;
  if (r.has("sample")) {
    const n = r.number("sample", undefined, { min: 1, integer: true });
    if (n !== undefined) sample = { n, seed: r.number("seed", 1, { min: 0, integer: true }) ?? 1 };
  } else if (r.has("seed")) r.fail("seed", "seeds the random `sample` of the grid; set `sample: N` too (the sampling seed is sampling.seed)");

  const name = r.string("name", file.replace(/^.*\//, "").replace(/\.(ya?ml|json)$/, "")) ?? "profile";
  const description = r.string("description", "") ?? "";
  problems.throwIfAny();
  const points: CellSettings[] = [];
  for (const prompt of prompts)
    for (const sampling of product(samplingAxes))
      for (const samples of top.samples)
        for (const parallel of top.parallel)
          for (const timeoutMs of top.timeoutMs)
            for (const runtime of product(runtimeAxes)) {
              const samplingSettings = { ...sampling } as SamplingSettings;
              if (samplingSettings.maxTokens === undefined) delete samplingSettings.maxTokens;
              points.push({ prompt, sampling: samplingSettings, samples, parallel, timeoutMs, runtime: dropUndefined(runtime) as RuntimeOverrides });
            }
  return { name, file, description, models, points, exclude, sample };
}

function readStopAxis(s: FieldReader | undefined): string[][] {
  if (!s?.has("stop")) return [[]];
  const raw = s.raw("stop");
  // A list of lists sweeps over stop sets; a string or a list of strings is one set.
  if (Array.isArray(raw) && raw.length > 0 && raw.every((x) => Array.isArray(x))) return s.axis("stop", (x, k) => x.stringList(k, []), []);
  return [s.stringList("stop", [])];
}

function readAutoInt(r: FieldReader, key: string, words: string[]): number | string | undefined {
  const v = r.raw(key);
  if (typeof v === "string" && words.includes(v)) return v;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  r.fail(key, `must be ${words.join(" or ")} or a whole number ≥ 0, got ${describe(v)}`);
  return undefined;
}

function readPrompts(doc: ConfigDoc, r: FieldReader, problems: Problems): PromptVariant[] {
  const raw = r.raw("prompts");
  if (raw === undefined || raw === null) return [DEFAULT_PROMPT];
  if (!Array.isArray(raw) || raw.length === 0) {
    r.fail("prompts", "must be a list of prompt variants ({name, template?, system?, fewShot?})");
    return [DEFAULT_PROMPT];
  }
  const names = new Set<string>();
  return raw.map((item, i) => {
    if (!isRecord(item)) {
      r.fail(`prompts.${i}`, "must be a mapping: {name, template?, system?, fewShot?}");
      return DEFAULT_PROMPT;
    }
    const p = new FieldReader(doc, item, ["prompts", i], problems);
    p.rejectUnknown(PROMPT_FIELDS);
    const name = p.string("name") ?? `prompt${i}`;
    if (names.has(name)) p.fail("name", `duplicate prompt variant name "${name}"`);
    names.add(name);
    const template = p.has("template") ? (p.string("template") ?? null) : null;
    if (template !== null && templateVariables(template).length === 0) p.fail("template", "has no {{variable}} placeholder");
    return {
      name,
      template,
      system: p.has("system") ? (p.string("system") ?? null) : null,
      fewShot: p.number("fewShot", 0, { min: 0, integer: true }) ?? 0,
      answerSeparator: p.string("answerSeparator", "") ?? "",
      exampleSeparator: p.string("exampleSeparator", "\n") ?? "\n",
    };
  });
}

function readExclude(r: FieldReader): ExcludeRule[] {
  const raw = r.raw("exclude");
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    r.fail("exclude", "must be a list of rules, each a mapping of settings, e.g. {temperature: 0, topP: 0.9}");
    return [];
  }
  const rules: ExcludeRule[] = [];
  raw.forEach((rule, i) => {
    if (!isRecord(rule) || Object.keys(rule).length === 0) {
      r.fail(`exclude.${i}`, "must be a non-empty mapping of settings, e.g. {temperature: 0, topP: 0.9}");
      return;
    }
    for (const key of Object.keys(rule)) {
      const path = SETTING_PATHS[key] ?? (Object.values(SETTING_PATHS).includes(key) ? key : undefined);
      if (!path) r.fail(`exclude.${i}.${key}`, `unknown setting; known: ${Object.keys(SETTING_PATHS).join(", ")}`);
    }
    rules.push(rule);
  });
  return rules;
}

function product<T extends Record<string, unknown[]>>(axes: T): { [K in keyof T]: T[K][number] }[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(axes)) out = out.flatMap((partial) => values.map((v) => ({ ...partial, [key]: v })));
  return out as { [K in keyof T]: T[K][number] }[];
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The value of one setting of a cell, by its path ("sampling.topP", "prompt.name", "model"). */
export function settingValue(modelId: string, s: CellSettings, path: string): unknown {
  if (path === "model") return modelId;
  let v: unknown = s;
  for (const part of path.split(".")) v = isRecord(v) ? v[part] : undefined;
  return v;
}

function matches(rule: ExcludeRule, modelId: string, s: CellSettings): boolean {
  return Object.entries(rule).every(([key, want]) => {
    const path = SETTING_PATHS[key] ?? key;
    return JSON.stringify(settingValue(modelId, s, path)) === JSON.stringify(want);
  });
}

export interface GridPoint {
  modelId: string;
  settings: CellSettings;
}

/**
 * The cells of a run: models × points, without excluded ones, then (with `sample`) a seeded
 * random subset of them in grid order. Returns how many each step removed, for the dry run.
 */
export function expandGrid(sweep: Sweep, modelIds: readonly string[]): { cells: GridPoint[]; gridSize: number; excluded: number } {
  const all = modelIds.flatMap((modelId) => sweep.points.map((settings) => ({ modelId, settings })));
  const kept = all.filter((c) => !sweep.exclude.some((rule) => matches(rule, c.modelId, c.settings)));
  let cells = kept;
  if (sweep.sample && sweep.sample.n < kept.length) {
    const rand = createRng(sweep.sample.seed);
    const order = kept.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const chosen = new Set(order.slice(0, sweep.sample.n));
    cells = kept.filter((_, i) => chosen.has(i));
  }
  return { cells, gridSize: all.length, excluded: all.length - kept.length };
}

/** The settings that differ between cells: the sweep's dimensions, for table columns. */
export function sweptPaths(cells: readonly GridPoint[]): string[] {
  const paths = ["model", ...Object.values(SETTING_PATHS).filter((p) => p !== "model")];
  return paths.filter((p) => new Set(cells.map((c) => JSON.stringify(settingValue(c.modelId, c.settings, p)))).size > 1);
}

