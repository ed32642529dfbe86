import { collect } from "./options.js";
import { Option, type Command } from "commander";
import { formatDifference, describeAgreement } from "../check/agreement.js";
import { checkDeterminism, type DeterminismComparison } from "../check/determinism.js";
import { HeldoutError } from "../core/errors.js";
import type { PlannedCell } from "../core/plan.js";
import { DEFAULT_PROFILE, DEFAULT_SUITE } from "./run.js";

interface DeterminismFlags {
  suite: string;
  model?: string[];
  profile: string;
  parallel: string;
  threads?: string;
  batchSize?: string;
  twice?: boolean;
  engine?: "embedded" | "llama-server";
  results: string;
  runId?: string;
  json?: boolean;
  quiet?: boolean;
}

export const EXIT_OUTPUTS_DIFFER = 1;

const ints = (flag: string, text: string, allowAuto = false): (number | "auto")[] =>
  text.split(",").map((v) => {
    if (allowAuto && v === "auto") return "auto";
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new HeldoutError("invalid-option", `--${flag}: "${v}" is not a whole number ≥ 1${allowAuto ? " or auto" : ""}`);
    return n;
  });

export function registerCheckDeterminism(check: Command): void {
  check
    .command("determinism")
    .description("run the suite greedily at 1 sequence and at other batching settings: do the outputs change?")
    .option("--suite <dir>", "suite directory", DEFAULT_SUITE)
    .option("--model <file>", "model manifest or .gguf (repeat for several)", collect)
    .option("--profile <file>", "profile whose sampling (made greedy), stop strings and limits to use", DEFAULT_PROFILE)
    .option("--parallel <list>", "parallel sequences to compare with 1", "8")
    .option("--threads <list>", "thread counts to compare (each at every parallel setting)")
    .option("--batch-size <list>", "batch sizes to compare")
    .addOption(new Option("--engine <engine>", "run GGUF models on this engine").choices(["embedded", "llama-server"]))
    .option("--twice", "run everything a second time and compare each setting with itself (run-to-run variation)")
    .option("--results <dir>", "results root (the check's runs and checks.jsonl go here)", "results")
    .option("--run-id <id>", "name of the check's run folder")
    .option("--json", "print the comparisons as JSON")
    .option("-q, --quiet", "no progress output")
    .addHelpText(
      "after",
      `
Each setting is a cell of a real run in the results root; the first cell (1 sequence, the first
thread count and batch size) is the baseline. Findings go to <results>/checks.jsonl: a later run
at a checked parallel setting records what was found, and warns when its setting was never checked.
Exit 0 when every output matched, 1 when any differed.

Examples:
  heldout check determinism --model models/arith-step600.yaml --parallel 8
  heldout check determinism --suite tasks/tinystories --model models/stories260k.yaml --parallel 4,8 --twice`,
    )
    .action(async (flags: DeterminismFlags) => {
      if (!flags.model?.length) throw new HeldoutError("invalid-option", "check determinism needs --model");
      const modelTag = (flags.model[0] ?? "model").replace(/^.*\//, "").replace(/\.(ya?ml|gguf)$/, "");
      const result = await checkDeterminism({
        suiteDir: flags.suite,
        modelFiles: flags.model,
        profileFile: flags.profile,
        parallel: ints("parallel", flags.parallel) as number[],
        threads: flags.threads ? ints("threads", flags.threads, true) : [],
        batchSize: flags.batchSize ? (ints("batch-size", flags.batchSize) as number[]) : [],
        repeat: flags.twice === true,
        ...(flags.engine ? { engine: flags.engine } : {}),
        resultsRoot: flags.results,
        runId: flags.runId ?? `determinism-${modelTag}-${new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}`,
        quiet: flags.quiet === true,
      });
      const { comparisons } = result;
      if (flags.json) process.stdout.write(`${JSON.stringify({ runs: result.runs.map((r) => r.dir), comparisons: comparisons.map(({ baseline, variant, ...c }) => ({ ...c, baseline: describe(baseline), variant: describe(variant) })) }, null, 2)}\n`);
      else process.stdout.write(`${formatDeterminism(comparisons, result.runs.map((r) => r.dir))}\n`);
      if (result.runs.some((r) => r.interrupted)) process.exitCode = 130;
      else if (comparisons.some((c) => c.agreement.differing > 0)) process.exitCode = EXIT_OUTPUTS_DIFFER;
    });
}

function describe(cell: PlannedCell): string {
  return `parallel ${cell.settings.parallel}, threads ${String(cell.runtime.threads)}, batch ${String(cell.runtime.batchSize ?? "auto")}`;
}

function formatDeterminism(comparisons: DeterminismComparison[], dirs: string[]): string {
  const lines: string[] = [];
  for (const c of comparisons) {
    const head = c.repeat ? `${c.modelId}, ${describe(c.variant)}: run 1 vs run 2` : `${c.modelId}: ${describe(c.baseline)} vs ${describe(c.variant)}`;
    lines.push(`${head}: ${describeAgreement(c.agreement)}`);
    for (const d of c.agreement.examples.slice(0, 3)) lines.push(`  ${formatDifference(d, c.repeat ? ["run 1", "run 2"] : ["baseline", "variant"]).replace(/\n/g, "\n  ")}`);
  }
  lines.push(`runs: ${dirs.join(", ")} (open their report.html to browse every output); findings appended to checks.jsonl`);
  return lines.join("\n");
}
