import { collect } from "./options.js";
import { Option, type Command } from "commander";
import { HeldoutError } from "../core/errors.js";
import { runProfile } from "../profile/run.js";
import { reportQuietly } from "./report.js";
import { DEFAULT_RULE } from "../stats/repetitions.js";
import { formatProfile, recommendations } from "../report/profile.js";

const list = (name: string, parse: (s: string) => number | null) => (value: string) =>
  value.split(",").map((s) => {
    const v = parse(s.trim());
    if (v === null) throw new HeldoutError("invalid-option", `--${name}: "${s}" is not a valid value`);
    return v;
  });
const int = (min: number) => (s: string) => (/^\d+$/.test(s) && Number(s) >= min ? Number(s) : null);

export function registerProfile(program: Command): void {
  program
    .command("profile")
    .description("measure prompt processing (pp) and generation (tg) tokens/s like llama-bench, over lists of settings")
    .requiredOption("--model <file>", "model manifest or .gguf; repeat for several", collect)
    .option("--pp <n,...>", "prompt lengths (0 = skip)", "512")
    .option("--tg <n,...>", "generated tokens (0 = skip)", "128")
    .option("--depth <n,...>", "tokens already in the KV cache", "0")
    .option("--threads <n,...>", "threads", "1")
    .option("--parallel <n,...>", "sequences decoded together (aggregate and per-sequence tg)", "1")
    .option("--batch-size <n,...>", "batch sizes (default: node-llama-cpp's)")
    .option("--flash-attention <on|off,...>", "flash attention", "off")
    .option("--gpu-layers <n|max|auto,...>", "layers offloaded to the GPU", "auto")
    .option("--binary <auto|prebuilt|source,...>", "node-llama-cpp binary: prebuilt, a local source build, or auto", "auto")
    .option("--engine <embedded|llama-server,...>", "node-llama-cpp in a worker, and/or llama.cpp's own llama-server", "embedded")
    .option("--reps <n|auto>", "timed repetitions per test; auto: until the 95% interval of the mean is within --ci-width", "5")
    .option("--ci-width <percent>", "with --reps auto: target half-width of the 95% interval, % of the mean", "5")
    .option("--max-reps <n>", "with --reps auto: stop after this many repetitions", "30")
    .option("--warmup <n>", "untimed repetitions first", "1")
    .option("--gpu <auto|cpu>", "allow the GPU", "auto")
    .addOption(new Option("--format <format>", "output").choices(["table", "json", "csv", "markdown"]).default("table"))
    .option("--out <dir>", "results root", "results")
    .option("--run-id <id>", "results folder name")
    .addHelpText("after", "\nExample:\n  heldout profile --model models/stories260k.yaml --threads 1,2 --binary prebuilt,source --tg 128 --pp 512")
    .action(async (flags: Record<string, string> & { model: string[] }) => {
      const pp = list("pp", int(0))(flags.pp as string).filter((n) => n > 0);
      const tg = list("tg", int(0))(flags.tg as string).filter((n) => n > 1);
      const binaries = (flags.binary as string).split(",").map((b) => {
        if (b !== "auto" && b !== "prebuilt" && b !== "source") throw new HeldoutError("invalid-option", `--binary: "${b}" is not auto, prebuilt or source`);
        return b;
      });
      const gpuLayers = (flags.gpuLayers as string).split(",").map((g) => (g === "max" || g === "auto" ? g : (int(0)(g) ?? (() => { throw new HeldoutError("invalid-option", `--gpu-layers: "${g}"`); })())));
      const result = await runProfile({
        modelFiles: flags.model,
        axes: {
          engine: (flags.engine as string).split(",").map((e) => {
            if (e !== "embedded" && e !== "llama-server") throw new HeldoutError("invalid-option", `--engine: "${e}" is not embedded or llama-server`);
            return e;
          }),
          binary: binaries,
          threads: list("threads", int(1))(flags.threads as string),
          parallel: list("parallel", int(1))(flags.parallel as string),
          depth: list("depth", int(0))(flags.depth as string),
          batchSize: flags.batchSize ? list("batch-size", int(1))(flags.batchSize) : [null],
          flashAttention: (flags.flashAttention as string).split(",").map((v) => v === "on" || v === "true"),
          gpuLayers,
        },
        tests: [...pp.map((tokens) => ({ kind: "pp" as const, tokens })), ...tg.map((tokens) => ({ kind: "tg" as const, tokens }))],
        reps:
          flags.reps === "auto"
            ? { ...DEFAULT_RULE, ciWidthPercent: positive("ci-width", flags.ciWidth as string), maxReps: int(3)(flags.maxReps as string) ?? invalid("max-reps", "a whole number ≥ 3", flags.maxReps as string) }
            : (int(1)(flags.reps as string) ?? invalid("reps", "a whole number ≥ 1, or auto", flags.reps as string)),
        warmup: int(0)(flags.warmup as string) ?? 1,
        gpu: flags.gpu === "cpu" ? "cpu" : "auto",
        outDir: flags.out as string,
        runId: flags.runId ?? `profile-${new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}`,
        onProgress: (m) => process.stderr.write(`${m}\n`),
      });
      const report = reportQuietly(result.dir);
      process.stdout.write(`${formatProfile(result.results, flags.format as "table")}\n`);
      if (flags.format === "table") {
        const advice = recommendations(result.results);
        if (advice.length) process.stdout.write(`\nrecommended for this machine (the fastest point measured, one sequence, depth 0):\n${advice.map((a) => `  ${a}`).join("\n")}\n`);
        process.stdout.write(`\nroofline: generation reads every weight once per step; measured copy bandwidth ${(result.bandwidth / 1e9).toFixed(1)} GB/s (one thread, a 256 MiB copy)\nresults: ${result.dir}/profile.json${report ? `\nreport:  ${report}` : ""}\n`);
      }
    });
}

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new HeldoutError("invalid-option", `--${flag} takes a positive number, got ${text}`);
  return n;
}

function invalid(flag: string, what: string, got: string): never {
  throw new HeldoutError("invalid-option", `--${flag} takes ${what}, got ${got}`);
}
