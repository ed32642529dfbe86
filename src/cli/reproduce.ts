import type { Command } from "commander";
import { compareReproduction, formatReproduction } from "../check/reproduce.js";
import { HeldoutError } from "../core/errors.js";
import { runBench } from "../runner/run.js";
import { createRng, randomInt } from "../stats/random.js";
import { RunStore } from "../store/results.js";
import { loadRun } from "../store/runs.js";

interface ReproduceFlags {
  sample?: string;
  seed: string;
  threads?: string;
  results: string;
  json?: boolean;
  quiet?: boolean;
}

export const EXIT_NOT_REPRODUCED = 1;

export function registerReproduce(program: Command): void {
  program
    .command("reproduce")
    .description("re-run a run's tasks (or a sample) with the settings it recorded and report whether its outputs come back")
    .argument("<run>", "run id under the results root, or a run folder")
    .option("--sample <n>", "re-run this many of its tasks, chosen at random (seeded); default all")
    .option("--seed <n>", "seed for --sample", "1")
    .option("--threads <n>", "override the thread count (to see what a different setting changes)")
    .option("--results <dir>", "results root", "results")
    .option("--json", "print the comparison as JSON")
    .option("-q, --quiet", "no progress output")
    .addHelpText(
      "after",
      `
Greedy cells must give identical outputs; sampled cells are compared by pass rate (paired, 95%
interval). Every recorded fact that differs now (machine, versions, engine binary, resolved
threads, settings) is listed. Exit 0 when reproduced, 1 when not.

Examples:
  heldout reproduce demo --sample 100
  heldout reproduce demo --threads 2     what changes with another thread count?`,
    )
    .action(async (run: string, flags: ReproduceFlags) => {
      const original = loadRun(run, flags.results);
      const { manifest } = original;
      if (!manifest.inputs) throw new HeldoutError("not-reproducible", "this run's manifest has no inputs to re-run (written by an older heldout)", { file: original.dir });
      const ran = [...new Set(original.records.map((r) => r.taskId))];
      const n = flags.sample === undefined ? ran.length : Number(flags.sample);
      if (!Number.isInteger(n) || n < 1) throw new HeldoutError("invalid-option", `--sample takes a whole number ≥ 1, got ${flags.sample}`);
      const seed = Number(flags.seed);
      // All of them: the run's own task list (the whole suite, or the subset it ran).
      const taskIds = n >= ran.length ? manifest.inputs.taskIds : sampleIds(ran, n, seed);
      const threads = flags.threads === undefined ? undefined : Number(flags.threads);
      if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new HeldoutError("invalid-option", `--threads takes a whole number ≥ 1, got ${flags.threads}`);
      const againId = `${manifest.runId}-reproduce-${new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}`;
      const outcome = await runBench({
        ...manifest.inputs,
        ...(threads !== undefined ? { threads } : {}),
        ...(taskIds ? { taskIds } : {}),
        runId: againId,
        outDir: flags.results,
        allowUnfrozen: manifest.suite.frozen === false,
        quiet: flags.quiet === true,
        argv: process.argv.slice(2),
      });
      if (outcome.manifest.suite.hash !== manifest.suite.hash) {
        throw new HeldoutError("suite-mismatch", `the suite changed since ${manifest.runId} (sha256 ${manifest.suite.hash.slice(0, 12)}… then, ${outcome.manifest.suite.hash.slice(0, 12)}… now): nothing to reproduce`, { file: manifest.suite.dir });
      }
      const changed = manifest.cells.filter((c, i) => outcome.manifest.cells[i]?.model.sha256 !== c.model.sha256);
      if (changed.length) throw new HeldoutError("model-mismatch", `model file(s) changed since ${manifest.runId}: ${changed.map((c) => c.modelId).join(", ")}`);
      const again = loadRun(outcome.dir);
      const result = compareReproduction(
        { manifest, records: original.records, executions: new RunStore(original.dir, true).cells() },
        { manifest: outcome.manifest, records: again.records, executions: new RunStore(outcome.dir, true).cells() },
      );
      process.stdout.write(flags.json ? `${JSON.stringify({ run: manifest.runId, reproduction: outcome.manifest.runId, ...result }, null, 2)}\n` : `${formatReproduction(manifest.runId, outcome.manifest.runId, result)}\n`);
      if (!result.reproduced) process.exitCode = EXIT_NOT_REPRODUCED;
    });
}

/** `n` of `ids`, a seeded random choice, in their original order. */
function sampleIds(ids: readonly string[], n: number, seed: number): string[] {
  const rng = createRng(seed);
  const pool = [...ids.keys()];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    [pool[i], pool[j]] = [pool[j] as number, pool[i] as number];
  }
  return pool
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => ids[i] as string);
}
