import { existsSync } from "node:fs";
import { join } from "node:path";
import { HeldoutError } from "../core/errors.js";
import type { CellSummary, Summary } from "../core/summary.js";
import type { RunRecord } from "../core/types.js";
import type { RunManifest } from "../runner/run.js";
import { MANIFEST_FILE, readJson, RunStore, SUMMARY_FILE } from "./results.js";

/** A finished run read back from its folder: what `show`, `compare` and reports work from. */
export interface LoadedRun {
  dir: string;
  manifest: RunManifest;
  summary: Summary;
  records: RunRecord[];
}

/** `run` is a run folder or a run id under `resultsRoot`. */
export function loadRun(run: string, resultsRoot = "results"): LoadedRun {
  const dir = existsSync(join(run, SUMMARY_FILE)) ? run : join(resultsRoot, run);
  const summaryFile = join(dir, SUMMARY_FILE);
  if (!existsSync(summaryFile)) throw new HeldoutError("run-not-found", `no run at ${run}: neither ${join(run, SUMMARY_FILE)} nor ${join(resultsRoot, run, SUMMARY_FILE)} exists`);
  const store = new RunStore(dir, true);
  return { dir, manifest: readJson<RunManifest>(join(dir, MANIFEST_FILE)), summary: readJson<Summary>(summaryFile), records: store.scoredRecords() };
}

export interface CellRef {
  run: LoadedRun;
  cell: CellSummary;
}

/**
 * `RUN` (a run with one cell), or `RUN:CELL` where CELL is a cell id, a unique prefix of one, or
 * a model id with exactly one cell in the run.
 */
export function resolveCell(ref: string, resultsRoot = "results"): CellRef {
  // Split at the first colon whose left side is a run: model ids may contain colons (llama3:8b).
  const isRun = (r: string) => existsSync(join(r, SUMMARY_FILE)) || existsSync(join(resultsRoot, r, SUMMARY_FILE));
  let runPart = ref;
  let cellPart: string | undefined;
  if (!isRun(ref)) {
    for (let i = ref.indexOf(":"); i > 0; i = ref.indexOf(":", i + 1)) {
      if (isRun(ref.slice(0, i))) {
        [runPart, cellPart] = [ref.slice(0, i), ref.slice(i + 1)];
        break;
      }
    }
  }
  const run = loadRun(runPart, resultsRoot);
  const cells = run.summary.cells;
  const list = () => cells.map((c) => `${c.cellId}${Object.keys(c.label).length ? ` (${Object.entries(c.label).map(([k, v]) => `${k}=${v}`).join(", ")})` : ""}`).join("\n  ");
  if (cellPart === undefined) {
    if (cells.length === 1) return { run, cell: cells[0] as CellSummary };
    throw new HeldoutError("ambiguous-cell", `run ${runPart} has ${cells.length} cells; name one as ${runPart}:<cell id or model id>:\n  ${list()}`);
  }
  // Most specific first: a whole cell id, then a model id, then a prefix of a cell id.
  const byId = cells.filter((c) => c.cellId === cellPart);
  const byModel = cells.filter((c) => c.modelId === cellPart);
  const byPrefix = cells.filter((c) => c.cellId.startsWith(cellPart));
  const chosen = byId.length > 0 ? byId : byModel.length > 0 ? byModel : byPrefix;
  if (chosen.length === 1) return { run, cell: chosen[0] as CellSummary };
  throw new HeldoutError("ambiguous-cell", `${chosen.length === 0 ? "no" : "more than one"} cell of run ${runPart} matches "${cellPart}"; its cells:\n  ${list()}`);
}
