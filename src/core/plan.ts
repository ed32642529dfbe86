import { contentId } from "./canonical.js";
import { expandGrid, settingValue, sweptPaths, type CellSettings, type GridPoint, type Sweep } from "./sweep.js";
import type { ModelSpec, RuntimeSettings, Suite } from "./types.js";

/**
 * The plan of a run: its cells (model × settings), each with a stable id, grouped so each model
 * (and each model-level runtime setting that needs a reload) is loaded once, by one engine host.
 */
export interface PlannedCell {
  /** `<model id>@<12 hex digits>`: a hash of the model file, the suite and every setting. */
  id: string;
  modelId: string;
  modelSha256: string;
  settings: CellSettings;
  /** The model manifest's runtime with the profile's overrides applied. */
  runtime: RuntimeSettings;
  maxTokens: number;
  /** The swept settings of this cell, as text, for tables ("sampling.topP" → "0.9"). */
  label: Record<string, string>;
  /** Cells with the same key share one loaded model. */
  hostKey: string;
}

export interface PlanModel {
  spec: ModelSpec;
  sha256: string;
}

export function planRun(suite: Suite, models: readonly PlanModel[], sweep: Sweep): { cells: PlannedCell[]; gridSize: number; excluded: number; swept: string[] } {
  const byId = new Map(models.map((m) => [m.spec.id, m]));
  const grid = expandGrid(
    sweep,
    models.map((m) => m.spec.id),
  );
  const swept = sweptPaths(grid.cells);
  const cells = grid.cells.map((point) => planCell(suite, byId.get(point.modelId) as PlanModel, point, swept));
  // Same model and reload key together, in the order the models were given.
  const order = new Map<string, number>();
  cells.forEach((c) => order.has(c.hostKey) || order.set(c.hostKey, order.size));
  cells.sort((a, b) => (order.get(a.hostKey) as number) - (order.get(b.hostKey) as number));
  return { cells, gridSize: grid.gridSize, excluded: grid.excluded, swept };
}

function planCell(suite: Suite, model: PlanModel, point: GridPoint, swept: string[]): PlannedCell {
  const { settings } = point;
  const runtime: RuntimeSettings = { ...model.spec.runtime, ...settings.runtime };
  const maxTokens = settings.sampling.maxTokens ?? suite.maxTokens;
  const identity = {
    modelSha256: model.sha256,
    suiteHash: suite.hash,
    backend: model.spec.backend,
    runtime,
    prompt: settings.prompt,
    promptTemplate: settings.prompt.template ?? suite.promptTemplate,
    chatTemplate: suite.chatTemplate,
    sampling: settings.sampling,
    maxTokens,
    samples: settings.samples,
    parallel: settings.parallel,
    timeoutMs: settings.timeoutMs,
  };
  const label: Record<string, string> = {};
  for (const path of swept) if (path !== "model") label[path] = formatSetting(settingValue(point.modelId, settings, path));
  return {
    id: `${model.spec.id}@${contentId(identity)}`,
    modelId: model.spec.id,
    modelSha256: model.sha256,
    settings,
    runtime,
    maxTokens,
    label,
    // What needs a new model load: the file, the engine, the binary, the GPU choice and layers offloaded.
    hostKey: JSON.stringify([model.spec.id, runtime.engine, runtime.binary, runtime.gpu, runtime.gpuLayers]),
  };
}

function formatSetting(v: unknown): string {
  if (v === undefined) return "default";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}
