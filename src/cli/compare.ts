import { Option, type Command } from "commander";
import { readFileSync } from "node:fs";
import { compareCells, isRegression } from "../core/compare.js";
import { HeldoutError } from "../core/errors.js";
import { formatComparison, type CompareFormat } from "../report/compare.js";
import { leaderboardText, parseLeaderboard } from "../report/leaderboard.js";
import { costNotes, rubricNotes, subjectiveNotes } from "../report/table.js";
import { loadRun, resolveCell, type CellRef } from "../store/runs.js";

export const EXIT_REGRESSION = 1;

interface CompareFlags {
  force?: boolean;
  failOnRegression?: string | boolean;
  format: CompareFormat;
  leaderboard?: string;
  out: string;
}

export function registerCompare(program: Command): void {
  program
    .command("compare")
    .description("compare two cells (runs, models or settings) on the same tasks: is the gap real?")
    .argument("<a>", "baseline: a run id or folder, or RUN:CELL (a cell id, its prefix, or a model id)")
    .argument("[b]", "candidate, the same way")
    .option("--force", "compare runs of different suite hashes on their common task ids")
    .option("--fail-on-regression [points]", "exit 1 when the candidate is significantly worse by more than this many points (default 0)")
    .option("--leaderboard <file.csv>", "rank correlation (Kendall τ) between a public leaderboard (columns: model,score) and the run <a>")
    .addOption(new Option("--format <format>", "output format").choices(["table", "markdown", "json", "csv"]).default("table"))
    .option("--out <dir>", "results root for run ids", "results")
    .addHelpText(
      "after",
      `
Examples:
  heldout compare results/old results/new --fail-on-regression 2
  heldout compare myrun:arith-step300 myrun:arith-step1500 --format markdown
  heldout compare myrun --leaderboard public.csv`,
    )
    .action((aRef: string, bRef: string | undefined, flags: CompareFlags) => {
      if (flags.leaderboard) {
        const run = loadRun(aRef, flags.out);
        const board = parseLeaderboard(flags.leaderboard, readFileSync(flags.leaderboard, "utf8"));
        process.stdout.write(`${leaderboardText(run.summary, board, flags.format)}\n`);
        return;
      }
      if (!bRef) throw new HeldoutError("invalid-option", "compare needs two cells (or --leaderboard with one run)");
      const a = resolveCell(aRef, flags.out);
      const b = resolveCell(bRef, flags.out);
      let common: Set<string> | undefined;
      if (a.run.summary.suite.hash !== b.run.summary.suite.hash) {
        if (!flags.force) {
          throw new HeldoutError(
            "suite-mismatch",
            `the two runs used different suites (${a.run.summary.suite.name} sha256 ${a.run.summary.suite.hash.slice(0, 12)}… and ${b.run.summary.suite.name} sha256 ${b.run.summary.suite.hash.slice(0, 12)}…); a changed suite is never compared silently. --force compares their common task ids only`,
          );
        }
        const idsOf = (r: CellRef) => new Set(r.run.records.filter((x) => x.cellId === r.cell.cellId).map((x) => x.taskId));
        const inB = idsOf(b);
        common = new Set([...idsOf(a)].filter((id) => inB.has(id)));
        process.stderr.write(`heldout: warning: different suites; comparing the ${common.size} task ids both have\n`);
      }
      const side = (r: CellRef, ref: string) => ({ name: ref, cell: r.cell, records: r.run.records.filter((x) => x.cellId === r.cell.cellId) });
      const comparison = compareCells(side(a, aRef), side(b, bRef), common);
      process.stdout.write(`${withRubrics(withCost(withSubjective(formatComparison(comparison, flags.format), flags.format, [a, b]), flags.format, [a, b]), flags.format, [a, b])}\n`);
      if (flags.failOnRegression !== undefined && flags.failOnRegression !== false) {
        const threshold = flags.failOnRegression === true ? 0 : Number(flags.failOnRegression);
        if (!Number.isFinite(threshold) || threshold < 0) throw new HeldoutError("invalid-option", `--fail-on-regression takes a number of points ≥ 0, got ${flags.failOnRegression}`);
        if (isRegression(comparison.overall, threshold)) {
          process.stderr.write(`heldout: regression: ${bRef} is worse than ${aRef} by more than ${threshold} points (${comparison.overall.verdict})\n`);
          process.exitCode = EXIT_REGRESSION;
        }
      }
    });
}

/** People's ratings of the two cells (heldout rate), when their runs have any. */
function withSubjective(text: string, format: CompareFormat, refs: CellRef[]): string {
  const of = (r: CellRef) => ({
    cellId: r.cell.cellId,
    score: r.run.summary.subjective?.score?.cells.find((c) => c.cellId === r.cell.cellId && c.n > 0) ?? null,
    pairwise: r.run.summary.subjective?.pairwise?.cells.find((c) => c.cellId === r.cell.cellId && c.n > 0) ?? null,
  });
  const sides = refs.map(of);
  if (sides.every((x) => x.score === null && x.pairwise === null)) return text;
  if (format === "json") return JSON.stringify({ ...(JSON.parse(text) as object), subjective: sides }, null, 2);
  if (format === "csv") return text;
  const notes = refs.flatMap((r) => subjectiveNotes(r.run.summary, [r.cell.cellId]).slice(1));
  return `${text}\n\npeople's ratings (heldout rate; mean 1–5 score or Bradley–Terry strength, 95% bootstrap interval):\n${notes.join("\n")}`;
}

/** Both cells' cost (run --cost or heldout cost), when priced. */
function withCost(text: string, format: CompareFormat, refs: CellRef[]): string {
  const costs = refs.map((r) => ({ cellId: r.cell.cellId, cost: r.cell.cost ?? null }));
  if (costs.every((c) => c.cost === null)) return text;
  if (format === "json") return JSON.stringify({ ...(JSON.parse(text) as object), cost: costs }, null, 2);
  if (format === "csv") return text;
  const notes = refs.flatMap((r) => costNotes(r.run.summary, [r.cell.cellId]).slice(1));
  return `${text}\n\ncost (per passing task = the cell's total cost ÷ tasks passed):\n${notes.join("\n")}`;
}

/** Both cells' rubric scores and, within one run, where the rubrics order them differently. */
function withRubrics(text: string, format: CompareFormat, refs: CellRef[]): string {
  if (refs.every((r) => !r.cell.rubrics?.length)) return text;
  if (format === "json") return JSON.stringify({ ...(JSON.parse(text) as object), rubrics: refs.map((r) => ({ cellId: r.cell.cellId, rubrics: r.cell.rubrics ?? [] })) }, null, 2);
  if (format === "csv") return text;
  const [a, b] = refs as [CellRef, CellRef];
  const lines = [...rubricNotes({ cells: [a.cell] }).slice(1), ...rubricNotes({ cells: [b.cell] }).slice(1)];
  for (const r of a.cell.rubrics ?? []) {
    const other = b.cell.rubrics?.find((x) => x.name === r.name);
    if (!other || r.mean === null || other.mean === null) continue;
    lines.push(`  ${r.name}: ${r.mean > other.mean ? a.cell.cellId : other.mean > r.mean ? b.cell.cellId : "neither"} scores higher`);
  }
  const order = (a.cell.rubrics ?? []).map((r) => Math.sign((r.mean ?? 0) - (b.cell.rubrics?.find((x) => x.name === r.name)?.mean ?? 0)));
  if (new Set(order.filter((x) => x !== 0)).size > 1) lines.push("  the rubrics disagree on which cell is better");
  return `${text}\n\nrubrics (mean score 0–1, 95% bootstrap interval):\n${lines.join("\n")}`;
}
