import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCostProfile, type CostProfile } from "../core/cost.js";
import { HeldoutError, HeldoutErrors } from "../core/errors.js";
import { parseOutputsFile } from "../core/outputs-file.js";
import { planRun, type PlannedCell } from "../core/plan.js";
import { parseSweep, type Sweep } from "../core/sweep.js";
import { templateVariables } from "../core/template.js";
import type { ModelSpec, Suite } from "../core/types.js";
import { loadModelSpec, resolveModel, type ResolvedModel } from "../store/models.js";
import { checkFrozen, loadSuite, type FreezeState } from "../store/suite-files.js";

/**
 * Reads and checks every input of a run (suite, lock, profile, manifests, model files) and plans
 * its cells, before any model loads. Bad input is reported with file, line and field.
 */
export interface RunInputs {
  suiteDir: string;
  /** Model manifests or .gguf paths; when empty, the profile's `models`. */
  modelFiles: string[];
  profileFile: string;
  /** Overrides every GGUF model's runtime.engine (`--engine`). */
  engine?: "embedded" | "llama-server";
  /** Overrides every GGUF model's runtime.threads (`reproduce --threads`). */
  threads?: number;
  /** Runs only these tasks of the suite (`reproduce --sample`); prompts still see the whole suite (few-shot). */
  taskIds?: string[];
  /** A cost profile (profiles/cost-*.yaml): each cell's energy and cost, per passing task too. */
  costFile?: string;
}

export interface LoadedInputs {
  suite: Suite;
  frozen: FreezeState;
  sweep: Sweep;
  specs: ModelSpec[];
  resolved: Map<string, ResolvedModel>;
  cells: PlannedCell[];
  gridSize: number;
  excluded: number;
  swept: string[];
  cost: CostProfile | null;
}

export async function loadInputs(inputs: RunInputs): Promise<LoadedInputs> {
  const suite = loadSuite(inputs.suiteDir);
  const frozen = checkFrozen(suite);
  if (!existsSync(inputs.profileFile)) throw new HeldoutError("profile-not-found", "profile not found", { file: inputs.profileFile });
  const sweep = parseSweep(inputs.profileFile, readFileSync(inputs.profileFile, "utf8"));
  checkPromptVariants(suite, sweep);
  const modelFiles = inputs.modelFiles.length > 0 ? inputs.modelFiles : sweep.models;
  if (modelFiles.length === 0) throw new HeldoutError("no-models", "no models to run: pass --model FILE or list `models` in the profile", { file: inputs.profileFile, field: "models" });
  const specs = modelFiles.map(loadModelSpec);
  if (inputs.engine) for (const s of specs) if (s.backend === "llama") s.runtime = { ...s.runtime, engine: inputs.engine };
  if (inputs.threads !== undefined) for (const s of specs) if (s.backend === "llama") s.runtime = { ...s.runtime, threads: inputs.threads };
  if (inputs.taskIds) {
    const known = new Set(suite.tasks.map((t) => t.id));
    const unknown = inputs.taskIds.filter((id) => !known.has(id));
    if (unknown.length) throw new HeldoutError("unknown-task", `${unknown.length} task id(s) not in the suite: ${unknown.slice(0, 5).join(", ")}`, { file: join(inputs.suiteDir, "tasks.jsonl") });
  }
  const ids = new Map<string, string>();
  for (const s of specs) {
    const other = ids.get(s.id);
    if (other !== undefined) throw new HeldoutError("duplicate-model", `model id "${s.id}" is used by two manifests (${other} and ${s.file})`, { file: s.file, field: "id" });
    ids.set(s.id, s.file ?? s.id);
  }
  const resolved = new Map<string, ResolvedModel>();
  for (const spec of specs) resolved.set(spec.id, await resolveModel(spec));
  for (const spec of specs) if (spec.backend === "outputs") checkOutputsFile((resolved.get(spec.id) as ResolvedModel).path, suite);
  const plan = planRun(
    suite,
    specs.map((spec) => ({ spec, sha256: (resolved.get(spec.id) as ResolvedModel).sha256 })),
    sweep,
  );
  const cost = inputs.costFile ? loadCostProfile(inputs.costFile) : null;
  return { suite, frozen, sweep, specs, resolved, ...plan, cost };
}

/** A prompt variant's own template must find its variables in every task. */
function checkPromptVariants(suite: Suite, sweep: Sweep): void {
  const problems: HeldoutError[] = [];
  const variants = [...new Map(sweep.points.map((p) => [p.prompt.name, p.prompt])).values()];
  variants.forEach((variant) => {
    if (!variant.template) return;
    for (const name of templateVariables(variant.template)) {
      const missing = suite.tasks.filter((t) => !Object.hasOwn(t.vars, name));
      if (missing.length > 0) {
        problems.push(
          new HeldoutError("invalid-profile", `prompt variant "${variant.name}" uses {{${name}}}, which ${missing.length} task(s) do not set (first: ${missing[0]?.id} at ${suite.dir}/tasks.jsonl:${missing[0]?.line})`, {
            file: sweep.file,
            field: `prompts.${variant.name}.template`,
          }),
        );
      }
    }
  });
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) throw new HeldoutErrors(problems);
}

/**
 * `backend: outputs`: the file parses, and it is for this suite: at least one output has a task id
 * of the suite (a file for a larger version of the suite is fine; tasks without an output fail).
 */
function checkOutputsFile(path: string, suite: Suite): void {
  const outputs = parseOutputsFile(path, readFileSync(path, "utf8"));
  const ids = new Set(suite.tasks.map((t) => t.id));
  const first = [...outputs.values()][0];
  if (first && ![...outputs.values()].some((o) => ids.has(o.taskId))) {
    throw new HeldoutError("invalid-outputs", `no output is for a task of suite "${suite.name}" (the first is for "${first.taskId}"): outputs for another suite?`, { file: path, line: first.line, field: "taskId" });
  }
}

export function loadCostProfile(file: string): CostProfile {
  if (!existsSync(file)) throw new HeldoutError("cost-not-found", "cost profile not found", { file });
  return parseCostProfile(file, readFileSync(file, "utf8"));
}
