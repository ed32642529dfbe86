import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HeldoutError } from "../core/errors.js";
import type { Summary } from "../core/summary.js";
import { summaryTable } from "../report/table.js";
import { readJson, SUMMARY_FILE } from "../store/results.js";
import { useColor } from "./color.js";

export function registerShow(program: Command): void {
  program
    .command("show")
    .description("print the comparison table (or --json summary) of a finished run")
    .argument("<run>", "run directory, or a run id under results/")
    .option("--json", "print summary.json")
    .action((run: string, opts: { json?: boolean }) => {
      const dir = existsSync(join(run, SUMMARY_FILE)) ? run : join("results", run);
      const file = join(dir, SUMMARY_FILE);
      if (!existsSync(file)) throw new HeldoutError("run-not-found", "no summary.json here", { file });
      const summary = readJson<Summary>(file);
      process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : `${summaryTable(summary, useColor())}\n`);
    });
}
