import { adjustComparisons, pairedComparison, type PairedComparison } from "../stats/paired.js";
import { outcomesByTask } from "./summary-stats.js";
import type { CellSummary } from "./summary.js";
import type { RunRecord } from "./types.js";

/**
 * Two cells side by side on the tasks they share: the paired verdict overall and per area (Holm
 * across areas), the areas where the ranking flips, and every figure next to each other. Pure.
 */
export interface CompareSide {
  name: string;
  cell: CellSummary;
  records: RunRecord[];
}

export interface AreaComparison {
  area: string;
  comparison: PairedComparison;
  /** The area ranks the two cells the other way round from the overall difference. */
  flips: boolean;
}

export interface Comparison {
  a: string;
  b: string;
  overall: PairedComparison;
  areas: AreaComparison[];
  /** [figure, A, B] rows, numbers as printed. */
  figures: { figure: string; a: number | null; b: number | null; unit: string }[];
}

export function compareCells(a: CompareSide, b: CompareSide, taskIds?: ReadonlySet<string>): Comparison {
  const keep = (rs: RunRecord[]) => (taskIds ? rs.filter((r) => taskIds.has(r.taskId)) : rs);
  const ra = keep(a.records);
  const rb = keep(b.records);
  const names = { a: a.name, b: b.name };
  const overall = pairedComparison(outcomesByTask(ra), outcomesByTask(rb), { names });
  const areaNames = [...new Set([...ra, ...rb].map((r) => r.area ?? "(none)"))].sort();
  const perArea =
    areaNames.length > 1
      ? areaNames.map((area) =>
          pairedComparison(
            outcomesByTask(ra.filter((r) => (r.area ?? "(none)") === area)),
            outcomesByTask(rb.filter((r) => (r.area ?? "(none)") === area)),
            { names },
          ),
        )
      : [];
  // One test per area is a family: Holm keeps the chance of any false per-area verdict at 5%.
  const adjusted = perArea.length > 1 ? adjustComparisons(perArea) : perArea;
  const sign = (x: number | null) => (x === null ? 0 : Math.sign(x));
  const areas = adjusted.map((comparison, i) => ({
    area: areaNames[i] as string,
    comparison,
    flips: sign(comparison.difference) !== 0 && sign(overall.difference) !== 0 && sign(comparison.difference) !== sign(overall.difference),
  }));
  const f = (figure: string, unit: string, get: (c: CellSummary) => number | null) => ({ figure, unit, a: get(a.cell), b: get(b.cell) });
  return {
    a: a.name,
    b: b.name,
    overall,
    areas,
    figures: [
      f("pass rate", "", (c) => c.passRate),
      f("generation tok/s, median", "tok/s", (c) => c.generationTokensPerSecond.median),
      f("prompt tok/s, median", "tok/s", (c) => c.promptTokensPerSecond.median),
      f("TTFT p50", "ms", (c) => c.ttftMs.p50),
      f("latency p50", "ms", (c) => c.latencyMs.p50),
      f("latency p95", "ms", (c) => c.latencyMs.p95),
      f("latency p99", "ms", (c) => c.latencyMs.p99),
      f("peak RSS", "MiB", (c) => (c.peakRssBytes === null ? null : c.peakRssBytes / 2 ** 20)),
      f("peak VRAM", "MiB", (c) => (c.peakVramBytes === null ? null : c.peakVramBytes / 2 ** 20)),
      f("failure rate", "", (c) => c.failures.rate),
    ],
  };
}

/**
 * A regression for CI: B (the candidate) is significantly worse than A and the whole 95% interval
 * of B − A lies below −threshold, so a gap inside the noise or smaller than the threshold never
 * fails a build.
 */
export function isRegression(c: PairedComparison, thresholdPoints: number): boolean {
  return c.significant && c.high !== null && c.high < -thresholdPoints / 100;
}
