import type { Command } from "commander";
import { disposeEngines } from "../backends/llama-engine.js";
import { formatContamination } from "../check/contamination.js";
import { runContamination } from "../check/contamination-run.js";
import { HeldoutError } from "../core/errors.js";
import { DEFAULT_PROFILE, DEFAULT_SUITE } from "./run.js";

interface ContaminationFlags {
  model?: string;
  suite: string;
  profile: string;
  json?: boolean;
  limit?: string;
  show: string;
  quiet?: boolean;
}

/** `heldout contamination`: has the model seen the suite's text? */
export function registerContamination(program: Command): void {
  program
    .command("contamination")
    .description("contamination probe: does the model reproduce each task's text from its first half, and prefer it over deterministic perturbations of it? The share flagged per area, with the evidence")
    .requiredOption("--model <file>", "a GGUF model (manifest or .gguf)")
    .option("--suite <dir>", "suite whose tasks are probed", DEFAULT_SUITE)
    .option("--profile <file>", "profile whose runtime settings (threads, context) are used", DEFAULT_PROFILE)
    .option("--limit <n>", "probe only the first N tasks")
    .option("--show <n>", "flagged tasks printed", "20")
    .option("--json", "print the full report (every task's measures) as JSON")
    .option("-q, --quiet", "no progress line")
    .addHelpText(
      "after",
      `
The probed text is the task's prompt (the suite's template) followed by its expected answer when
that is a string. Evidence, not proof: text the model can derive (arithmetic, formulas, very
common phrases) is flagged as well. See README "Contamination probe".

Example:
  heldout contamination --model models/arith-step6000.yaml --suite tasks/arith --limit 40`,
    )
    .action(async (flags: ContaminationFlags) => {
      if (!flags.model) throw new HeldoutError("invalid-option", "contamination needs --model FILE (a manifest or a .gguf)", { field: "--model" });
      let limit: number | undefined;
      if (flags.limit !== undefined) {
        limit = Number(flags.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new HeldoutError("invalid-option", `--limit takes a positive whole number, got "${flags.limit}"`, { field: "--limit" });
      }
      const show = Number(flags.show);
      if (!Number.isInteger(show) || show < 0) throw new HeldoutError("invalid-option", `--show takes a whole number, got "${flags.show}"`, { field: "--show" });
      const progress = !flags.quiet && !flags.json && process.stderr.isTTY === true;
      try {
        const report = await runContamination({
          suiteDir: flags.suite,
          modelFile: flags.model,
          profileFile: flags.profile,
          ...(limit !== undefined ? { limit } : {}),
          ...(progress ? { onProgress: (done: number, total: number) => process.stderr.write(`\rcontamination: ${done}/${total} tasks`) } : {}),
        });
        if (progress) process.stderr.write("\n");
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatContamination(report, show)}\n`);
      } finally {
        await disposeEngines();
      }
    });
}
