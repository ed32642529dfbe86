import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { readJsonl } from "./results.js";

/**
 * What `heldout check determinism` found, kept beside the runs (`<results>/checks.jsonl`, one line
 * per compared setting) so a later run can say whether its parallel setting was checked on this
 * model file and what was found.
 */
export const CHECKS_FILE = "checks.jsonl";

export interface DeterminismCheck {
  kind: "determinism";
  checkedAt: string;
  /** The check's own run (its records hold every output compared). */
  runId: string;
  modelId: string;
  modelSha256: string;
  /** What produced the outputs: backend kind, engine binary and CPU variant. */
  engine: Record<string, unknown>;
  baseline: { parallel: number; threads: string; batchSize: string };
  variant: { parallel: number; threads: string; batchSize: string; repeat: boolean };
  compared: number;
  differing: number;
  differingShare: number | null;
  passToFail: number;
  failToPass: number;
}

export function appendChecks(resultsRoot: string, checks: readonly DeterminismCheck[]): void {
  mkdirSync(resultsRoot, { recursive: true });
  appendFileSync(join(resultsRoot, CHECKS_FILE), checks.map((c) => `${JSON.stringify(c)}\n`).join(""));
}

export function readChecks(resultsRoot: string): DeterminismCheck[] {
  const file = join(resultsRoot, CHECKS_FILE);
  return existsSync(file) ? readJsonl<DeterminismCheck>(file).filter((c) => c.kind === "determinism") : [];
}

/** The newest check of this model file at this many parallel sequences, if any. */
export function findDeterminismCheck(checks: readonly DeterminismCheck[], modelSha256: string, parallel: number): DeterminismCheck | null {
  const matching = checks.filter((c) => c.modelSha256 === modelSha256 && c.variant.parallel === parallel && !c.variant.repeat);
  return matching.sort((a, b) => b.checkedAt.localeCompare(a.checkedAt))[0] ?? null;
}

/** Recorded in a run's manifest for each cell decoding several sequences together. */
export type DeterminismStatus = { checked: false } | ({ checked: true } & Pick<DeterminismCheck, "runId" | "checkedAt" | "compared" | "differing" | "differingShare" | "passToFail" | "failToPass" | "baseline" | "variant">);
