import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { costNotes } from "../report/table.js";
import { loadCostProfile } from "../runner/inputs.js";
import { writeSummary, type RunManifest } from "../runner/run.js";
import { MANIFEST_FILE, readJson, RunStore, writeJsonAtomic } from "../store/results.js";
import { reportQuietly } from "./report.js";

export function registerCost(program: Command): void {
  program
    .command("cost")
    .description("price a finished run's cells with a cost profile: energy per 1,000 tokens, cost per 1M tokens, per request and per passing task")
    .argument("<run>", "run id under the results root, or a run folder")
    .requiredOption("--cost <file>", "cost profile (profiles/cost-*.yaml)")
    .option("--results <dir>", "results root", "results")
    .addHelpText(
      "after",
      `
The profile is recorded in the run's manifest and the summary, table, compare and report show
the figures with their inputs. The same as \`heldout run --cost FILE\`, after the fact.

Example:
  heldout cost my-run --cost profiles/cost-cpu.yaml`,
    )
    .action((run: string, flags: { cost: string; results: string }) => {
      const dir = existsSync(join(run, MANIFEST_FILE)) ? run : join(flags.results, run);
      if (!existsSync(join(dir, MANIFEST_FILE))) throw new HeldoutError("run-not-found", "no run here", { file: dir });
      const manifest = readJson<RunManifest>(join(dir, MANIFEST_FILE));
      manifest.cost = loadCostProfile(flags.cost);
      writeJsonAtomic(join(dir, MANIFEST_FILE), manifest);
      const summary = writeSummary(new RunStore(dir, true), manifest);
      reportQuietly(dir);
      process.stdout.write(`${costNotes(summary).join("\n")}\n`);
    });
}
