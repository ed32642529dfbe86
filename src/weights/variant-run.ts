import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { compareCells, type Comparison } from "../core/compare.js";
import type { CellSummary } from "../core/summary.js";
import type { RuntimeSettings } from "../core/types.js";
import { adjustComparisons } from "../stats/paired.js";
import type { LoadedRun } from "../store/runs.js";
import { runBench, type RunOutcome } from "../runner/run.js";

/**
 * Variants of one model (quantized, ablated) run as ordinary models of one run: each gets a
 * manifest next to its file, and is compared with the base model task by task.
 */

export function writeVariantManifest(dir: string, id: string, ggufPath: string, runtime: RuntimeSettings, description: string): string {
  const file = join(dir, `${id}.yaml`);
  writeFileSync(file, `# Written by heldout: ${description}\n${stringify({ id, backend: "llama", sources: [ggufPath], runtime })}`);
  return file;
}

/** Where and how a study runs its suite: the base model and its variants as the models of one run. */
export interface StudyRun {
  suiteDir: string;
  profileFile: string;
  outDir: string;
  runId?: string;
  quiet: boolean;
  argv: string[];
  signal?: AbortSignal;
}

export function runModels(study: StudyRun, modelFiles: string[]): Promise<RunOutcome> {
  return runBench({
    suiteDir: study.suiteDir,
    modelFiles,
    profileFile: study.profileFile,
    outDir: study.outDir,
    ...(study.runId ? { runId: study.runId } : {}),
    allowUnfrozen: false,
    quiet: study.quiet,
    argv: study.argv,
    ...(study.signal ? { signal: study.signal } : {}),
  });
}

export interface VariantComparison {
  modelId: string;
  cell: CellSummary;
  comparison: Comparison;
}

/**
 * Each variant's first cell against the base model's first cell, on the tasks they share: the
 * overall verdicts Holm-adjusted across variants (one family of tests against one base), each
 * variant's per-area verdicts Holm-adjusted across its areas.
 */
export function compareVariants(run: LoadedRun, baseId: string, variantIds: readonly string[]): { base: CellSummary; variants: VariantComparison[] } {
  const cellOf = (modelId: string) => {
    const cell = run.summary.cells.find((c) => c.modelId === modelId);
    if (!cell) throw new Error(`run ${run.dir} has no cell for model ${modelId}`);
    return cell;
  };
  const base = cellOf(baseId);
  const side = (cell: CellSummary) => ({ name: cell.modelId, cell, records: run.records.filter((r) => r.cellId === cell.cellId) });
  const raw = variantIds.map((id) => {
    const cell = cellOf(id);
    return { modelId: id, cell, comparison: compareCells(side(base), side(cell)) };
  });
  const adjusted = raw.length > 1 ? adjustComparisons(raw.map((r) => r.comparison.overall)) : raw.map((r) => r.comparison.overall);
  return { base, variants: raw.map((r, i) => ({ ...r, comparison: { ...r.comparison, overall: adjusted[i] ?? r.comparison.overall } })) };
}
