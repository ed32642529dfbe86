import type { Command } from "commander";
import { writeReport } from "../report/html/write.js";

/**
 * The report written at the end of `run` and `profile`: a failure to write it is a warning, never
 * a lost run (the results are already on disk; `heldout report` can try again).
 */
export function reportQuietly(dir: string): string | null {
  try {
    return writeReport(dir);
  } catch (error) {
    process.stderr.write(`heldout: warning: could not write the HTML report (${(error as Error).message.split("\n")[0]}); the run's results are complete; retry with \`heldout report ${dir}\`\n`);
    return null;
  }
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("write a run's (or a profile's) self-contained HTML report: tables, plots, every output side by side")
    .argument("<run>", "run or profile folder, or its id under the results root")
    .option("--out <file.html>", "where to write it (default: report.html in the run folder)")
    .option("--results <dir>", "results root for run ids", "results")
    .addHelpText(
      "after",
      `
The report opens offline in any browser: no server, nothing fetched. \`heldout run\` and
\`heldout profile\` write one into each run folder as they finish.

Examples:
  heldout report results/arith-20261125-101500
  heldout report my-run --out /tmp/my-run.html`,
    )
    .action((run: string, flags: { out?: string; results: string }) => {
      const file = writeReport(run, { resultsRoot: flags.results, ...(flags.out ? { out: flags.out } : {}) });
      process.stdout.write(`${file}\n`);
    });
}
