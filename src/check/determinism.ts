import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { HeldoutError } from "../core/errors.js";
import type { PlannedCell } from "../core/plan.js";
import { parseSweep } from "../core/sweep.js";
import type { RunRecord } from "../core/types.js";
import { runBench, type RunOutcome } from "../runner/run.js";
import { appendChecks, type DeterminismCheck } from "../store/checks.js";
import { RunStore } from "../store/results.js";
import { compareOutputs, type OutputAgreement } from "./agreement.js";

/**
 * `heldout check determinism`: do greedy outputs stay the same when only the batching changes?
 * The suite runs greedily at 1 sequence (the baseline) and at the other settings asked for
 * (parallel sequences, thread counts, batch sizes) as one sweep, so each setting is a cell of a
 * real run (resumable, reported like any run); with `repeat`, the whole sweep runs a second time
 * to show run-to-run variation. Every cell's outputs are compared with the baseline's (the
 * repeat's with their twins), and the findings are appended to the checks file that later runs
 * read.
 */

export interface DeterminismOptions {
  suiteDir: string;
  modelFiles: string[];
  profileFile: string;
  parallel: number[];
  threads: (number | "auto")[];
  batchSize: number[];
  repeat: boolean;
  engine?: "embedded" | "llama-server";
  taskIds?: string[];
  resultsRoot: string;
  runId: string;
  quiet: boolean;
  signal?: AbortSignal;
}

export interface DeterminismComparison {
  modelId: string;
  baseline: PlannedCell;
  variant: PlannedCell;
  /** True when this compares a cell with its twin from the repeated sweep. */
  repeat: boolean;
  agreement: OutputAgreement;
}

export interface DeterminismResult {
  runs: RunOutcome[];
  comparisons: DeterminismComparison[];
}

const settingText = (cell: PlannedCell) => ({
  parallel: cell.settings.parallel,
  threads: String(cell.runtime.threads),
  batchSize: String(cell.runtime.batchSize ?? "auto"),
});

export async function checkDeterminism(o: DeterminismOptions): Promise<DeterminismResult> {
  const profileText = readFileSync(o.profileFile, "utf8");
  const base = parseSweep(o.profileFile, profileText).points[0];
  if (!base) throw new HeldoutError("invalid-profile", "the profile has no settings", { file: o.profileFile });
  const parallel = [...new Set([1, ...o.parallel])];
  if (parallel.length < 2 && o.threads.length < 2 && o.batchSize.length < 2 && !o.repeat) {
    throw new HeldoutError("invalid-option", "nothing to compare: give --parallel N (N > 1), several --threads or --batch-size values, or --twice");
  }
  // The profile's own sampling, made greedy: temperature 0 and no truncation, one sample.
  const profile = {
    name: "determinism",
    description: `greedy outputs at parallel ${parallel.join(", ")}${o.threads.length > 1 ? `, threads ${o.threads.join(", ")}` : ""}${o.batchSize.length > 1 ? `, batch ${o.batchSize.join(", ")}` : ""}`,
    // An empty stop list is left out: in a profile a list is an axis, and an empty one has no values.
    sampling: { ...base.sampling, temperature: 0, topP: 1, topK: 0, minP: 0, ...(base.sampling.stop.length ? { stop: base.sampling.stop } : { stop: undefined }) },
    samples: 1,
    parallel,
    ...(o.threads.length || o.batchSize.length ? { runtime: { ...(o.threads.length ? { threads: o.threads } : {}), ...(o.batchSize.length ? { batchSize: o.batchSize } : {}) } } : {}),
  };
  const runs: RunOutcome[] = [];
  for (const id of o.repeat ? [o.runId, `${o.runId}-again`] : [o.runId]) {
    const dir = join(o.resultsRoot, id);
    mkdirSync(dir, { recursive: true });
    const profileFile = join(dir, "determinism-profile.yaml");
    writeFileSync(profileFile, `# written by heldout check determinism from ${o.profileFile}\n${stringify(profile)}`);
    runs.push(
      await runBench({ suiteDir: o.suiteDir, modelFiles: o.modelFiles, profileFile, ...(o.engine ? { engine: o.engine } : {}), ...(o.taskIds ? { taskIds: o.taskIds } : {}), runId: id, outDir: o.resultsRoot, allowUnfrozen: true, quiet: o.quiet, ...(o.signal ? { signal: o.signal } : {}) }),
    );
    if (runs[runs.length - 1]?.interrupted) break;
  }
  const records = runs.map((r) => new RunStore(r.dir, true).records());
  const of = (i: number, cell: PlannedCell): RunRecord[] => (records[i] ?? []).filter((r) => r.cellId === cell.id);
  const comparisons: DeterminismComparison[] = [];
  const first = runs[0] as RunOutcome;
  for (const modelId of [...new Set(first.manifest.cells.map((c) => c.modelId))]) {
    const cells = first.manifest.cells.filter((c) => c.modelId === modelId);
    const baseline = cells[0] as PlannedCell;
    for (const cell of cells.slice(1)) comparisons.push({ modelId, baseline, variant: cell, repeat: false, agreement: compareOutputs(of(0, baseline), of(0, cell)) });
    if (runs.length > 1) for (const cell of cells) comparisons.push({ modelId, baseline: cell, variant: cell, repeat: true, agreement: compareOutputs(of(0, cell), of(1, cell)) });
  }
  const executions = new RunStore(first.dir, true).cells();
  const engineOf = (cell: PlannedCell) => {
    const backend = (executions.filter((e) => e.cellId === cell.id && e.error === null).pop()?.backend ?? {}) as Record<string, unknown>;
    const engine = (backend.engine ?? {}) as Record<string, unknown>;
    return { kind: backend.kind ?? null, library: engine.library ?? null, binary: engine.binary ?? null, cpuVariant: engine.cpuVariant ?? null, gpu: engine.gpu ?? null };
  };
  appendChecks(
    o.resultsRoot,
    comparisons
      .filter((c) => c.agreement.compared > 0)
      .map(
        (c): DeterminismCheck => ({
          kind: "determinism",
          checkedAt: new Date().toISOString(),
          runId: first.manifest.runId,
          modelId: c.modelId,
          modelSha256: c.variant.modelSha256,
          engine: engineOf(c.variant),
          baseline: settingText(c.baseline),
          variant: { ...settingText(c.variant), repeat: c.repeat },
          compared: c.agreement.compared,
          differing: c.agreement.differing,
          differingShare: c.agreement.differingShare,
          passToFail: c.agreement.passToFail,
          failToPass: c.agreement.failToPass,
        }),
      ),
  );
  return { runs, comparisons };
}
