import { collect } from "./options.js";
import type { Command } from "commander";
import { disposeEngines } from "../backends/llama-engine.js";
import { runDoctor } from "../runner/doctor.js";
import { DEFAULT_MODELS, DEFAULT_SUITE } from "./run.js";

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("check that a run is ready: engine binary, GPU, suite lock, model files and servers")
    .option("--suite <dir>", "suite to check", DEFAULT_SUITE)
    .option("--model <file>", "model manifest or .gguf; repeat for several (default: the demo models)", collect)
    .option("--out <dir>", "results root, where earlier profiles are", "results")
    .action(async (flags: { suite: string; model?: string[]; out: string }) => {
      const checks = await runDoctor({ suiteDir: flags.suite, modelFiles: flags.model ?? DEFAULT_MODELS, resultsRoot: flags.out });
      await disposeEngines();
      const width = Math.max(...checks.map((c) => c.subject.length));
      for (const c of checks) {
        process.stdout.write(`${c.status.toUpperCase().padEnd(4)}  ${c.subject.padEnd(width)}  ${c.detail}\n`);
        if (c.fix) process.stdout.write(`${" ".repeat(6 + width)}  fix: ${c.fix}\n`);
      }
      const failed = checks.filter((c) => c.status === "fail").length;
      process.stdout.write(failed ? `\n${failed} check(s) failed\n` : "\nready\n");
      if (failed) process.exitCode = 1;
    });
}
