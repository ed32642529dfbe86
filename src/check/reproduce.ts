import type { CellExecution } from "../core/summary.js";
import { outcomesByTask } from "../core/summary-stats.js";
import type { RunRecord } from "../core/types.js";
import type { RunManifest } from "../runner/run.js";
import { pairedComparison } from "../stats/paired.js";
import { compareOutputs, describeAgreement, formatDifference, type OutputAgreement } from "./agreement.js";

/**
 * `heldout reproduce`: a run against its re-run on a sample of its tasks, with the settings it
 * recorded. Greedy cells must give identical outputs; sampled cells are compared by pass rate
 * (paired, with an interval). Every recorded fact that differs now (machine, software, engine
 * binary, resolved threads...) is listed, so a difference has its likely causes beside it. Pure.
 */

export interface RunSide {
  manifest: RunManifest;
  records: readonly RunRecord[];
  executions: readonly CellExecution[];
}

export interface CellReproduction {
  modelId: string;
  /** Cell ids: in the run, and in its re-run. */
  originalCell: string;
  rerunCell: string;
  greedy: boolean;
  agreement: OutputAgreement;
  /** Sampled cells: reproduced − original pass rate on the sampled tasks, paired. */
  passRate: { difference: number | null; low: number | null; high: number | null; significant: boolean; verdict: string } | null;
  /** Greedy: every compared output identical; sampled: no significant pass-rate difference. */
  reproduced: boolean;
}

export interface Reproduction {
  tasks: number;
  cells: CellReproduction[];
  /** Recorded facts that differ between the two runs: [what, then, now]. */
  differences: [string, string, string][];
  reproduced: boolean;
}

export function compareReproduction(original: RunSide, again: RunSide): Reproduction {
  const cells = original.manifest.cells.map((cell, i): CellReproduction => {
    const twin = again.manifest.cells[i];
    if (!twin) throw new Error(`the re-run has no cell ${i + 1} (${cell.id})`);
    const ids = new Set(again.records.filter((r) => r.cellId === twin.id).map((r) => `${r.taskId}\u0000${r.sample}`));
    const a = original.records.filter((r) => r.cellId === cell.id && ids.has(`${r.taskId}\u0000${r.sample}`));
    const b = again.records.filter((r) => r.cellId === twin.id);
    const agreement = compareOutputs(a, b);
    const greedy = cell.settings.sampling.temperature === 0;
    if (greedy) return { modelId: cell.modelId, originalCell: cell.id, rerunCell: twin.id, greedy, agreement, passRate: null, reproduced: agreement.compared > 0 && agreement.differing === 0 };
    const p = pairedComparison(outcomesByTask(a), outcomesByTask(b), { names: { a: "original", b: "re-run" } });
    return {
      modelId: cell.modelId,
      originalCell: cell.id,
      rerunCell: twin.id,
      greedy,
      agreement,
      passRate: { difference: p.difference, low: p.low, high: p.high, significant: p.significant, verdict: p.verdict },
      reproduced: agreement.compared > 0 && !p.significant,
    };
  });
  const differences = settingDifferences(original, again);
  return { tasks: new Set(again.records.map((r) => r.taskId)).size, cells, differences, reproduced: cells.every((c) => c.reproduced) };
}

/** The recorded facts a number depends on, flattened to "path → value" for a diff. */
export function recordedFacts(side: RunSide): Map<string, string> {
  const facts = new Map<string, string>();
  flatten(side.manifest.system ?? {}, "machine", facts);
  const last = new Map(side.executions.filter((e) => e.error === null).map((e) => [e.cellId, e]));
  side.manifest.cells.forEach((cell) => {
    const prefix = `${cell.modelId}${side.manifest.cells.filter((c) => c.modelId === cell.modelId).length > 1 ? `#${side.manifest.cells.filter((c) => c.modelId === cell.modelId).indexOf(cell) + 1}` : ""}`;
    facts.set(`${prefix}.model.sha256`, cell.model.sha256);
    flatten(cell.settings, `${prefix}.settings`, facts);
    flatten(cell.runtime ?? {}, `${prefix}.runtime`, facts);
    facts.set(`${prefix}.maxTokens`, String(cell.maxTokens));
    const backend = last.get(cell.id)?.backend;
    if (backend) {
      // Per-process details that differ on every run by nature.
      const { pid: _pid, warnings: _warnings, ...rest } = backend as Record<string, unknown>;
      flatten(rest, `${prefix}.engine`, facts);
    }
  });
  for (const k of [...facts.keys()]) if (/\.(initMs|loadMs)$/.test(k)) facts.delete(k);
  return facts;
}

function settingDifferences(a: RunSide, b: RunSide): [string, string, string][] {
  const then = recordedFacts(a);
  const now = recordedFacts(b);
  const keys = [...new Set([...then.keys(), ...now.keys()])].sort();
  return keys.filter((k) => then.get(k) !== now.get(k)).map((k) => [k, then.get(k) ?? "(not recorded)", now.get(k) ?? "(not recorded)"]);
}

function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, `${prefix}.${k}`, out);
    return;
  }
  out.set(prefix, typeof value === "string" ? value : JSON.stringify(value) ?? "undefined");
}

export function formatReproduction(runId: string, againId: string, r: Reproduction): string {
  const lines = [`reproduce ${runId} → ${againId}: ${r.tasks} task(s) re-run with the same suite and model files (sha256)`];
  for (const c of r.cells) {
    const head = `  ${c.modelId}${c.greedy ? " (greedy)" : " (sampled)"}: ${describeAgreement(c.agreement)}`;
    lines.push(c.passRate ? `${head}; pass rate ${c.passRate.verdict}` : head);
    for (const d of c.agreement.examples.slice(0, 3)) lines.push(`    ${formatDifference(d, ["original", "re-run"]).replace(/\n/g, "\n    ")}`);
  }
  if (r.differences.length === 0) lines.push("recorded settings, engine and machine: all the same");
  else {
    lines.push(`recorded facts that differ (then → now):`);
    for (const [k, a, b] of r.differences) lines.push(`  ${k}: ${a} → ${b}`);
  }
  lines.push(r.reproduced ? "reproduced: every greedy output identical, every sampled cell within noise" : "NOT reproduced: see the cells above and the differences listed");
  return lines.join("\n");
}
