import type { Command } from "commander";
import type { RunOutcome } from "../runner/run.js";
import type { StudyRun } from "../weights/variant-run.js";
import { reportQuietly } from "./report.js";
import { DEFAULT_PROFILE, DEFAULT_SUITE, EXIT_CELLS_FAILED, EXIT_INTERRUPTED } from "./run.js";

/** What `quantize-sweep` and `ablate` share: a run of the model and its variants, stoppable, then a table or JSON and the report. */
export interface StudyFlags {
  suite: string;
  profile: string;
  runId?: string;
  out: string;
  quiet?: boolean;
  json?: boolean;
  report: boolean;
}

/** The options of a study's run; `file` names the JSON that --json prints. */
export function studyOptions(command: Command, file: string): Command {
  return command
    .option("--suite <dir>", "suite to run", DEFAULT_SUITE)
    .option("--profile <file>", "sampling profile for the suite run", DEFAULT_PROFILE)
    .option("--run-id <id>", "results folder name; rerun the same command with the same id to resume an interrupted run")
    .option("--out <dir>", "results root", "results")
    .option("-q, --quiet", "no progress output")
    .option("--json", `print ${file} instead of the table`)
    .option("--no-report", "do not write report.html");
}

export async function runStudy<F>(flags: StudyFlags, start: (study: StudyRun) => Promise<{ outcome: RunOutcome; file: F | null }>, table: (file: F) => string): Promise<void> {
  // Ctrl-C: stop cleanly (finished generations are kept); a second one quits at once.
  const stop = new AbortController();
  const onSignal = () => (stop.signal.aborted ? process.exit(EXIT_INTERRUPTED) : stop.abort());
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const study: StudyRun = { suiteDir: flags.suite, profileFile: flags.profile, outDir: flags.out, ...(flags.runId ? { runId: flags.runId } : {}), quiet: flags.quiet === true, argv: process.argv.slice(2), signal: stop.signal };
  let result: { outcome: RunOutcome; file: F | null };
  try {
    result = await start(study);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const { outcome, file } = result;
  if (outcome.interrupted || file === null) {
    process.stderr.write(`heldout: interrupted; finished generations are kept; resume with the same command and --run-id ${outcome.manifest.runId}\n`);
    process.exitCode = EXIT_INTERRUPTED;
    return;
  }
  const report = flags.report === false ? null : reportQuietly(outcome.dir);
  if (flags.json) process.stdout.write(`${JSON.stringify(file, null, 2)}\n`);
  else process.stdout.write(`${table(file)}\n\nresults: ${outcome.dir}${report ? `\nreport:  ${report}` : ""}\n`);
  if (outcome.failedCells > 0) process.exitCode = EXIT_CELLS_FAILED;
}
