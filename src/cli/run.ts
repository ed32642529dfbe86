import type { Command } from "commander";
import { summaryTable } from "../report/table.js";
import { runBench } from "../runner/run.js";
import { useColor } from "./color.js";

export const DEFAULT_SUITE = "tasks/arith";
export const DEFAULT_MODELS = ["models/arith-step300.yaml", "models/arith-step600.yaml", "models/arith-step1500.yaml"];
export const DEFAULT_PROFILE = "profiles/default.yaml";

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("run a frozen suite through one or more models and print their comparison table")
    .option("--suite <dir>", "suite directory (suite.yaml + tasks.jsonl + suite.lock.json)", DEFAULT_SUITE)
    .option("--model <file>", "model manifest (models/*.yaml) or a .gguf path; repeat for several", (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option("--profile <file>", "sampling profile (profiles/*.yaml)", DEFAULT_PROFILE)
    .option("--run-id <id>", "name of the results folder; an existing run with the same plan is resumed")
    .option("--out <dir>", "results root", "results")
    .option("--json", "print summary.json to stdout instead of the table")
    .option("--allow-unfrozen", "run a suite whose content differs from its lock (recorded in the manifest)")
    .option("-q, --quiet", "no progress output")
    .addHelpText("after", "\nWith no flags: the demo suite tasks/arith on arith-step300, -step600 and -step1500 with profiles/default.yaml.")
    .action(async (opts: { suite: string; model?: string[]; profile: string; runId?: string; out: string; json?: boolean; allowUnfrozen?: boolean; quiet?: boolean }) => {
      const outcome = await runBench({
        suiteDir: opts.suite,
        modelFiles: opts.model && opts.model.length > 0 ? opts.model : DEFAULT_MODELS,
        profileFile: opts.profile,
        runId: opts.runId,
        outDir: opts.out,
        allowUnfrozen: opts.allowUnfrozen === true,
        quiet: opts.quiet === true,
        argv: process.argv.slice(2),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(outcome.summary, null, 2)}\n`);
      else process.stdout.write(`${summaryTable(outcome.summary, useColor())}\n\nresults: ${outcome.dir}${outcome.resumed ? " (resumed)" : ""}\n`);
    });
}
