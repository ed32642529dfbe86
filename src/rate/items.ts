import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { HeldoutError } from "../core/errors.js";
import type { RatingMode } from "../core/subjective.js";
import { renderTemplate } from "../core/template.js";
import type { RunRecord } from "../core/types.js";
import { createRng, randomInt } from "../stats/random.js";
import type { LoadedRun } from "../store/runs.js";
import { loadSuite } from "../store/suite-files.js";

/**
 * What a person rates: one output of one cell (score mode), or the outputs of two cells for the
 * same task and sample (pairwise). Items know their cells; the rating page never does.
 */
interface ItemBase {
  /** Stable id (see itemKey), recorded in ratings.jsonl, never sent to the page. */
  key: string;
  taskId: string;
  sample: number;
  area: string | null;
  /** The task's prompt as the suite writes it (the same for every cell), or null when unknown. */
  prompt: string | null;
}

export interface ScoreItem extends ItemBase {
  mode: "score";
  cellId: string;
  output: string;
}

export interface PairItem extends ItemBase {
  mode: "pairwise";
  /** Sorted; `outputs` in the same order. */
  cells: [string, string];
  outputs: [string, string];
}

export type RateItem = ScoreItem | PairItem;

/** sha256 of the run, mode, cell(s) (sorted), task and sample: the same output has the same id for every rater and seed. */
export function itemKey(runId: string, mode: RatingMode, cells: readonly string[], taskId: string, sample: number): string {
  return createHash("sha256")
    .update(JSON.stringify([runId, mode, [...cells].sort(), taskId, sample]))
    .digest("hex")
    .slice(0, 24);
}

/** `--cells` references: a cell id, a model id with one cell in the run, or a unique prefix of a cell id. */
export function resolveCells(run: LoadedRun, refs: readonly string[]): string[] {
  const cells = run.summary.cells;
  return refs.map((ref) => {
    const byId = cells.filter((c) => c.cellId === ref);
    const byModel = cells.filter((c) => c.modelId === ref);
    const byPrefix = cells.filter((c) => c.cellId.startsWith(ref));
    const chosen = byId.length > 0 ? byId : byModel.length > 0 ? byModel : byPrefix;
    if (chosen.length === 1) return (chosen[0] as { cellId: string }).cellId;
    const list = cells.map((c) => `${c.cellId}${Object.keys(c.label).length ? ` (${Object.entries(c.label).map(([k, v]) => `${k}=${v}`).join(", ")})` : ""}`).join("\n  ");
    throw new HeldoutError("ambiguous-cell", `${chosen.length === 0 ? "no" : "more than one"} cell of this run matches "${ref}"; its cells:\n  ${list}`, { field: "--cells" });
  });
}

/**
 * The prompt each task is shown with: the suite's own template filled with the task's variables,
 * when the suite on disk is the one the run used. A record's prompt may carry a model's chat
 * template or a cell's prompt variant, which would tell the rater which cell wrote the output;
 * so without the suite, a record's prompt is used only when every cell saw the same text.
 */
export function neutralPrompts(run: LoadedRun): Map<string, string | null> {
  const prompts = new Map<string, string | null>();
  const dir = run.manifest.suite?.dir;
  if (dir && existsSync(dir)) {
    try {
      const suite = loadSuite(dir);
      if (suite.hash === run.summary.suite.hash) {
        for (const task of suite.tasks) prompts.set(task.id, renderTemplate(suite.promptTemplate, task.vars));
        return prompts;
      }
    } catch {
      // fall through to the records' prompts
    }
  }
  for (const r of run.records) {
    const seen = prompts.get(r.taskId);
    if (seen === undefined) prompts.set(r.taskId, r.prompt);
    else if (seen !== null && seen !== r.prompt) prompts.set(r.taskId, null);
  }
  return prompts;
}

const rateable = (r: RunRecord) => r.error === null && r.finishReason !== "error";

/** Score items of the given cells, or pairwise items of exactly two cells (tasks × samples both have). */
export function buildItems(records: readonly RunRecord[], runId: string, mode: RatingMode, cells: readonly string[], prompts: ReadonlyMap<string, string | null>): RateItem[] {
  const usable = records.filter(rateable);
  const prompt = (taskId: string) => prompts.get(taskId) ?? null;
  if (mode === "score") {
    const wanted = new Set(cells);
    return usable
      .filter((r) => wanted.has(r.cellId))
      .map((r) => ({ mode: "score", key: itemKey(runId, "score", [r.cellId], r.taskId, r.sample), cellId: r.cellId, taskId: r.taskId, sample: r.sample, area: r.area, prompt: prompt(r.taskId), output: r.output }));
  }
  if (cells.length !== 2 || cells[0] === cells[1]) throw new HeldoutError("invalid-option", "pairwise rating needs two different cells: --cells A,B", { field: "--cells" });
  const [a, b] = [...cells].sort() as [string, string];
  const ofB = new Map(usable.filter((r) => r.cellId === b).map((r) => [`${r.taskId}\u0000${r.sample}`, r]));
  const items: PairItem[] = [];
  for (const ra of usable) {
    if (ra.cellId !== a) continue;
    const rb = ofB.get(`${ra.taskId}\u0000${ra.sample}`);
    if (!rb) continue;
    items.push({ mode: "pairwise", key: itemKey(runId, "pairwise", [a, b], ra.taskId, ra.sample), cells: [a, b], outputs: [ra.output, rb.output], taskId: ra.taskId, sample: ra.sample, area: ra.area ?? rb.area, prompt: prompt(ra.taskId) });
  }
  return items;
}

/** The blind order: the items sorted by key, then shuffled (Fisher–Yates) with the seed. */
export function blindOrder<T extends { key: string }>(items: readonly T[], seed: number): T[] {
  const order = [...items].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  const rng = createRng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    [order[i], order[j]] = [order[j] as T, order[i] as T];
  }
  return order;
}

/** Pairwise: whether the first (sorted) cell goes on the left; a coin per item, fixed by the seed. */
export function firstCellOnLeft(seed: number, key: string): boolean {
  return ((createHash("sha256").update(`${seed}:${key}`).digest()[0] as number) & 1) === 0;
}
