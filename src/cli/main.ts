import { Command, CommanderError } from "commander";
import { HeldoutError } from "../core/errors.js";
import { packageVersion } from "../system/fingerprint.js";
import { registerAblate } from "./ablate.js";
import { registerCard } from "./card.js";
import { registerCheck } from "./check.js";
import { registerCompare } from "./compare.js";
import { registerContamination } from "./contamination.js";
import { registerCost } from "./cost.js";
import { registerDoctor } from "./doctor.js";
import { registerEngine } from "./engine.js";
import { registerExport } from "./export.js";
import { registerFreeze } from "./freeze.js";
import { registerImport } from "./import.js";
import { registerProfile } from "./profile.js";
import { registerQuantizeSweep } from "./quantize-sweep.js";
import { registerRate } from "./rate.js";
import { registerJudge } from "./judge.js";
import { registerReport } from "./report.js";
import { registerReproduce } from "./reproduce.js";
import { registerRun } from "./run.js";
import { registerSealStatus } from "./seal-status.js";
import { registerShow } from "./show.js";
import { registerSynth } from "./synth.js";

/** Thin command layer: parse, call the core, print, set the exit code. */

const program = new Command("heldout")
  .description("Bench open-weight language models on your own hardware: a frozen task suite, accuracy with speed, latency tails and memory.")
  .version(packageVersion("heldout"), "-V, --version")
  .showHelpAfterError()
  .addHelpText(
    "after",
    `
Examples:
  heldout run                                   run the demo suite (tasks/arith) on the arith checkpoints
  heldout run --suite tasks/tinystories --model models/stories260k.yaml
  heldout run --model models/arith-step600.yaml --model ../shared/models/arith/arith-step6000.gguf --json
  heldout freeze tasks/my-suite                 lock a suite's content (sha256) before comparing runs
  heldout show results/<run-id>                 print a finished run's table again
  heldout report <run-id>                       write the run's HTML report (plots, outputs side by side)
  heldout compare <run-a> <run-b> --fail-on-regression 2   is B significantly worse than A?
  heldout export <run-id> --format csv --out run.csv   a run as CSV, JSONL or markdown (a PR comment)
  heldout doctor --model models/my-server.yaml   is everything a run needs ready?`,
  );

registerRun(program);
registerFreeze(program);
registerSealStatus(program);
registerImport(program);
registerShow(program);
registerReport(program);
registerRate(program);
registerJudge(program);
registerReproduce(program);
registerCompare(program);
registerContamination(program);
registerCost(program);
registerCheck(program);
registerExport(program);
registerCard(program);
registerQuantizeSweep(program);
registerAblate(program);
registerDoctor(program);
registerProfile(program);
registerEngine(program);
registerSynth(program);

program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else if (error instanceof HeldoutError) {
    process.stderr.write(`heldout: error: ${error.format().replace(/\n/g, "\nheldout: error: ")}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`heldout: internal error (a bug; please report it):\n${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 70;
  }
}
