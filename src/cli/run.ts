import { collect } from "./options.js";
import { Option, type Command } from "commander";
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { SORT_KEYS, summaryTable, type SortKey } from "../report/table.js";
import { dryRunText } from "../report/plan.js";
import { loadInputs, type RunInputs } from "../runner/inputs.js";
import { runBench, type RunManifest } from "../runner/run.js";
import { MANIFEST_FILE, readJson } from "../store/results.js";
import { appendSealLog, LOCK_FILE, loadSuite, readLock, readSealLog, SEAL_LOG_FILE } from "../store/suite-files.js";
import { checkSplit, SPLIT_NAMES, splitTaskIds, type RunSplit, type SplitName } from "../core/split.js";
import { useColor } from "./color.js";
import { reportQuietly } from "./report.js";

export const DEFAULT_SUITE = "tasks/arith";
export const DEFAULT_MODELS = ["models/arith-step300.yaml", "models/arith-step600.yaml", "models/arith-step1500.yaml"];
export const DEFAULT_PROFILE = "profiles/default.yaml";

/** Exit codes beyond 0 (completed) and 2 (bad input). */
export const EXIT_CELLS_FAILED = 3;
export const EXIT_INTERRUPTED = 130;

interface RunFlags {
  suite?: string[];
  model?: string[];
  profile?: string;
  runId?: string;
  resume?: string;
  out: string;
  json?: boolean;
  allowUnfrozen?: boolean;
  quiet?: boolean;
  dryRun?: boolean;
  retries: string;
  sort: SortKey;
  engine?: "embedded" | "llama-server";
  report: boolean;
  cost?: string;
  split?: SplitName;
  unseal?: boolean;
  chosenOn?: string[];
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("run a frozen suite through models × settings (a sweep) and print the comparison table")
    .option("--suite <dir...>", `suite directory (default: ${DEFAULT_SUITE}); several (tasks/redteam-*) run one after another, each its own run`)
    .option("--model <file>", "model manifest (models/*.yaml) or a .gguf path; repeat for several", collect)
    .option("--profile <file>", `sampling profile or sweep (default: ${DEFAULT_PROFILE})`)
    .option("--run-id <id>", "name of the results folder; an existing run with the same plan is resumed")
    .option("--resume <run-id>", "finish an interrupted run with the suite, models and profile it was started with")
    .option("--out <dir>", "results root", "results")
    .option("--dry-run", "print the planned cells, generations and a token estimate, without loading a model")
    .option("--retries <n>", "restarts of a crashed engine host for its unfinished cells", "0")
    .addOption(new Option("--engine <engine>", "run GGUF models with node-llama-cpp in-process (embedded) or with llama.cpp's llama-server").choices(["embedded", "llama-server"]))
    .addOption(new Option("--sort <key>", "table order").choices(SORT_KEYS).default("plan"))
    .option("--json", "print summary.json to stdout instead of the table")
    .option("--allow-unfrozen", "run a suite whose content differs from its lock (recorded in the manifest)")
    .option("-q, --quiet", "no progress output")
    .option("--no-report", "do not write report.html into the run folder")
    .addOption(new Option("--split <part>", "which part of the suite's sealed split to run (default: dev when the lock has a split); test and all need --unseal").choices([...SPLIT_NAMES]))
    .option("--unseal", "allow a run on the sealed test part; it is recorded in the manifest and in the suite's seal-log.jsonl")
    .option("--chosen-on <run-id>", "with --split test: the dev run(s) the settings were chosen on (recorded; the report compares dev with test)", collect)
    .option("--cost <file>", "price each cell with a cost profile (profiles/cost-*.yaml): energy, cost per 1M tokens, per request, per passing task")
    .addHelpText(
      "after",
      `
With no flags: the demo suite ${DEFAULT_SUITE} on arith-step300, -step600 and -step1500 with ${DEFAULT_PROFILE}.
Exit codes: 0 completed, 2 bad input, ${EXIT_CELLS_FAILED} some cells failed (the others are complete), ${EXIT_INTERRUPTED} interrupted (resumable).`,
    )
    .action(async (flags: RunFlags) => {
      const retries = Number(flags.retries);
      if (!Number.isInteger(retries) || retries < 0) throw new HeldoutError("invalid-option", `--retries must be a whole number ≥ 0, got ${flags.retries}`);
      const suites = flags.suite ?? [DEFAULT_SUITE];
      if (suites.length > 1 && !flags.resume) {
        // Several suites: one run each, in turn (their own run ids, tables and exit statuses).
        for (const suite of suites) {
          if (!flags.json) process.stdout.write(`== suite ${suite} ==\n`);
          const code = await runOne({ ...flags, suite: [suite], ...(flags.runId ? { runId: `${flags.runId}-${basename(suite)}` } : {}) }, retries);
          process.exitCode = Math.max(Number(process.exitCode ?? 0), code);
          if (code === EXIT_INTERRUPTED) return;
        }
        return;
      }
      process.exitCode = await runOne(flags, retries);
    });
}

/**
 * The part of the suite's sealed split a run uses: dev by default; test (or all, which includes
 * test) only with --unseal. A suite without a split runs whole, and --split is then an error.
 */
function chooseSplit(suiteDir: string, flags: RunFlags): { taskIds: string[]; run: RunSplit } | undefined {
  if (!existsSync(suiteDir)) return undefined; // runBench reports the missing suite
  const lock = readLock(suiteDir);
  const file = join(suiteDir, LOCK_FILE);
  if (!lock?.split) {
    if (flags.split || flags.unseal || flags.chosenOn) throw new HeldoutError("no-split", `suite has no sealed split, so --split, --unseal and --chosen-on do not apply; seal one with: heldout freeze ${suiteDir} --split dev=0.3,test=0.7 --seed N`, { file });
    return undefined;
  }
  const name: SplitName = flags.split ?? "dev";
  if (name !== "dev" && !flags.unseal) {
    throw new HeldoutError("sealed", `refusing to run the ${name === "test" ? "test split" : "whole suite (it includes the test split)"}: it is sealed. Choose settings on dev first; a look at test must be deliberate: add --unseal (it is recorded in the manifest and in ${join(suiteDir, SEAL_LOG_FILE)}), with --chosen-on <dev-run-id>`, { file });
  }
  if (name === "dev" && (flags.unseal || flags.chosenOn)) throw new HeldoutError("invalid-option", "--unseal and --chosen-on go with --split test (or all); a dev run needs neither");
  const suite = loadSuite(suiteDir);
  const problem = checkSplit(lock.split, suite);
  if (problem) throw new HeldoutError("invalid-split", problem, { file });
  for (const id of flags.chosenOn ?? []) {
    const path = join(flags.out, id, MANIFEST_FILE);
    if (!existsSync(path)) throw new HeldoutError("run-not-found", `--chosen-on: no run "${id}" in ${flags.out}`, { file: path });
    const dev = readJson<RunManifest>(path);
    if (dev.split?.name !== "dev" || dev.split.hash !== lock.split.hash) throw new HeldoutError("invalid-option", `--chosen-on: run "${id}" is not a run on this split's dev part (its split: ${dev.split ? `${dev.split.name}, hash ${dev.split.hash.slice(0, 12)}…` : "none"})`, { file: path });
  }
  const unsealed = name !== "dev";
  return {
    taskIds: splitTaskIds(lock.split, suite, name),
    run: { name, seed: lock.split.seed, hash: lock.split.hash, unsealed, chosenOn: unsealed ? (flags.chosenOn ?? null) : null },
  };
}

/** One run of one suite; returns its exit code (0, cells failed, interrupted). */
async function runOne(flags: RunFlags, retries: number): Promise<number> {
  let inputs: RunInputs = { suiteDir: flags.suite?.[0] ?? DEFAULT_SUITE, modelFiles: flags.model ?? [], profileFile: flags.profile ?? DEFAULT_PROFILE, ...(flags.engine ? { engine: flags.engine } : {}), ...(flags.cost ? { costFile: flags.cost } : {}) };
  let runId = flags.runId;
  if (flags.resume) {
    if (flags.suite || flags.model || flags.profile || flags.engine || flags.cost || flags.split || flags.unseal || flags.chosenOn || (flags.runId && flags.runId !== flags.resume)) {
      throw new HeldoutError("invalid-option", "--resume takes the suite, models, profile and split from the run's manifest; give no --suite, --model, --profile, --split, --unseal, --chosen-on or --run-id with it");
    }
    const manifestPath = join(flags.out, flags.resume, MANIFEST_FILE);
    if (!existsSync(manifestPath)) throw new HeldoutError("run-not-found", `no run "${flags.resume}" to resume`, { file: manifestPath });
    inputs = readJson<RunManifest>(manifestPath).inputs;
    runId = flags.resume;
  } else if (inputs.modelFiles.length === 0 && inputs.profileFile === DEFAULT_PROFILE) {
    inputs.modelFiles = DEFAULT_MODELS;
  }
  const split = flags.resume ? undefined : chooseSplit(inputs.suiteDir, flags);
  if (split) inputs = { ...inputs, taskIds: split.taskIds };
  if (flags.dryRun) {
    process.stdout.write(`${dryRunText(await loadInputs(inputs))}\n`);
    return 0;
  }
  // Ctrl-C: stop cleanly (keep what finished, say how to resume); a second one quits at once.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(EXIT_INTERRUPTED);
    process.stderr.write(`\nheldout: ${signal}: stopping; finished generations are kept (${signal === "SIGINT" ? "Ctrl-C again to quit now" : "signal again to quit now"})\n`);
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const outcome = await runBench({
    ...inputs,
    runId,
    outDir: flags.out,
    allowUnfrozen: flags.allowUnfrozen === true,
    retries,
    quiet: flags.quiet === true,
    argv: process.argv.slice(2),
    signal: stop.signal,
    ...(split ? { split: split.run } : {}),
  });
  if (split?.run.unsealed && outcome.manifest.split?.unsealed && !outcome.resumed) {
    const suiteDir = inputs.suiteDir;
    const models = new Map(outcome.manifest.cells.map((c) => [c.modelId, { id: c.modelId, file: c.modelFile, sha256: c.model.sha256 }]));
    appendSealLog(suiteDir, {
      time: new Date().toISOString(),
      runId: outcome.manifest.runId,
      resultsDir: outcome.dir,
      split: split.run.name === "all" ? "all" : "test",
      splitHash: split.run.hash,
      models: [...models.values()],
      cells: outcome.manifest.cells.map((c) => ({ id: c.id, modelId: c.modelId, label: c.label, settings: c.settings })),
      command: outcome.manifest.command,
      chosenOn: split.run.chosenOn,
    });
    const looks = readSealLog(suiteDir).length;
    process.stderr.write(`heldout: unsealed: ran the test split of ${basename(suiteDir)} (look ${looks} at it; recorded in ${join(suiteDir, SEAL_LOG_FILE)})${looks > 1 ? "; warning: each look at test spends it (see heldout seal-status)" : ""}\n`);
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  const report = flags.report === false ? null : reportQuietly(outcome.dir);
  if (flags.json) process.stdout.write(`${JSON.stringify(outcome.summary, null, 2)}\n`);
  else process.stdout.write(`${summaryTable(outcome.summary, useColor(), flags.sort)}\n\nresults: ${outcome.dir}${outcome.resumed ? " (resumed)" : ""}${report ? `\nreport:  ${report}` : ""}\n`);
  const id = outcome.manifest.runId;
  const out = flags.out === "results" ? "" : ` --out ${flags.out}`;
  if (outcome.interrupted) {
    process.stderr.write(`heldout: interrupted; resume with: heldout run --resume ${id}${out}\n`);
    return EXIT_INTERRUPTED;
  }
  if (outcome.failedCells > 0) {
    process.stderr.write(`heldout: ${outcome.failedCells} cell(s) failed or incomplete (see the table); the other cells are complete; \`heldout run --resume ${id}${out}\` retries failed generations\n`);
    return EXIT_CELLS_FAILED;
  }
  return 0;
}
