import type { Command } from "commander";
import { existsSync } from "node:fs";
import { BUILD_TOOLS_HINT } from "../backends/llama-tools.js";
import { HeldoutError } from "../core/errors.js";
import { llamaBenchPath, measureWithLlamaBench, type BenchMeasurement } from "../check/llama-bench.js";
import { checkRule, DEFAULT_RULE, type RepetitionRule } from "../stats/repetitions.js";
import { benchPlan, cellFacts, cellLengths, formatReconciliation, reconcile, timedRecords, type BenchOutcome } from "../check/throughput.js";
import { fileSha256 } from "../store/models.js";
import { RunStore } from "../store/results.js";
import { resolveCell } from "../store/runs.js";

interface Flags {
  results: string;
  ciWidth: string;
  maxReps: string;
  modelFile?: string;
  threads?: string;
  bench: boolean;
  json?: boolean;
}

function positiveNumber(value: string, flag: string, integer: boolean): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new HeldoutError("invalid-option", `${flag} takes a positive ${integer ? "integer" : "number"}, got "${value}"`);
  return n;
}

export function registerCheckThroughput(check: Command): void {
  check
    .command("throughput")
    .description("a cell's client-side tok/s beside the engine's own figures and llama-bench on the same model, threads and lengths, and the gap in ms per token")
    .argument("<cell>", "a run id or folder (a run with one cell), or RUN:CELL (a cell id, its prefix, or a model id)")
    .option("--results <dir>", "results root for run ids", "results")
    .option("--ci-width <percent>", "repeat llama-bench until the 95% interval of its mean is within ± this % of the mean", "5")
    .option("--max-reps <n>", "at most this many llama-bench repetitions per test", "30")
    .option("--model-file <file>", "the GGUF the server ran (server cells: heldout cannot see it otherwise)")
    .option("--threads <n>", "the thread count the server used (server cells)")
    .option("--no-bench", "do not run llama-bench (client and engine figures only)")
    .option("--json", "print the reconciliation as JSON")
    .addHelpText(
      "after",
      `
Examples:
  heldout check throughput myrun
  heldout check throughput myrun:stories260k --ci-width 2 --max-reps 50 --json`,
    )
    .action(async (ref: string, flags: Flags) => {
      const rule: RepetitionRule = { ...DEFAULT_RULE, ciWidthPercent: positiveNumber(flags.ciWidth, "--ci-width", false), maxReps: positiveNumber(flags.maxReps, "--max-reps", true) };
      try {
        checkRule(rule);
      } catch (e) {
        throw new HeldoutError("invalid-option", (e as Error).message);
      }
      const { run, cell } = resolveCell(ref, flags.results);
      const manifestCell = run.manifest.cells.find((c) => c.id === cell.cellId);
      if (!manifestCell) throw new HeldoutError("corrupt-results", `the manifest has no cell ${cell.cellId}`, { file: run.dir });
      const executions = new RunStore(run.dir, true).cells().filter((e) => e.cellId === cell.cellId);
      const facts = cellFacts(manifestCell, executions, {
        ...(flags.modelFile ? { modelPath: flags.modelFile } : {}),
        ...(flags.threads ? { threads: positiveNumber(flags.threads, "--threads", true) } : {}),
      });
      const records = run.records.filter((r) => r.cellId === cell.cellId);
      if (timedRecords(records).length === 0) throw new HeldoutError("no-generations", `cell ${cell.cellId} has no generation that ran: nothing to reconcile`);

      const bench: BenchOutcome = { exe: null, measurements: [], reason: null };
      const plan = benchPlan(facts, cellLengths(records));
      if (!flags.bench) bench.reason = "not run (--no-bench)";
      else if ("reason" in plan) bench.reason = `not run: ${plan.reason}`;
      else if (!existsSync(plan.settings.modelPath)) bench.reason = `not run: the model file ${plan.settings.modelPath} is not on this machine (--model-file names another)`;
      else {
        bench.exe = llamaBenchPath();
        if (!bench.exe) bench.reason = `not run: llama-bench is not built; build it once with: ${BUILD_TOOLS_HINT}`;
        else {
          // The file must be the one the cell ran: a changed file would reconcile the wrong model.
          if (facts.modelSha256 && !flags.modelFile) {
            const sha = await fileSha256(plan.settings.modelPath);
            if (sha !== facts.modelSha256) throw new HeldoutError("model-changed", `the model file changed since the run (sha256 ${sha.slice(0, 12)}…, the run used ${facts.modelSha256.slice(0, 12)}…)`, { file: plan.settings.modelPath });
          }
          const tty = process.stderr.isTTY === true;
          try {
            bench.measurements = await measureWithLlamaBench({
              exe: bench.exe,
              settings: plan.settings,
              tests: plan.tests,
              rule,
              onRound: (test, samples) => {
                if (tty) process.stderr.write(`heldout: llama-bench ${test.kind}${test.tokens}: ${samples.length} repetitions\n`);
              },
            });
          } catch (e) {
            bench.reason = `failed: ${(e as Error).message}`;
            bench.measurements = [] as BenchMeasurement[];
          }
        }
      }
      const result = reconcile({ runId: run.manifest.runId, facts, records, bench, rule });
      process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatReconciliation(result)}\n`);
    });
}
