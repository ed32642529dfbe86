import type { Command } from "commander";
import { quantizationTable } from "../report/quantization.js";
import { quantizeSweep } from "../weights/quantize-sweep.js";
import { runStudy, studyOptions, type StudyFlags } from "./study.js";

export const DEFAULT_TYPES = "q8_0,q6_k,q5_k_m,q4_k_m,q4_0,q3_k_m,q2_k";

interface Flags extends StudyFlags {
  model: string;
  types: string;
  crossCheck?: string;
}

export function registerQuantizeSweep(program: Command): void {
  const command = program
    .command("quantize-sweep")
    .description("quantize a model to several types (llama-quantize) and measure what each costs on a suite: KL divergence, top-1 agreement, answer perplexity, pass rate with paired verdicts, size, speed, memory")
    .requiredOption("--model <file>", "the F16/F32 source: a model manifest or a .gguf path")
    .option("--types <list>", "quantization types, comma-separated", DEFAULT_TYPES)
    .option("--cross-check <type|none>", "variant whose KL divergence is checked against llama-perplexity's (default: q4_0 when swept, else the last type)");
  studyOptions(command, "quantization.json")
    .addHelpText(
      "after",
      `
Variants are cached outside the repository (\${HELDOUT_CACHE_DIR:-~/.cache/heldout}/quantized/<source sha256>/),
so a second sweep quantizes nothing. A type the tensor shapes cannot take falls back as
llama-quantize decides; the table says which tensors did.

Example:
  heldout quantize-sweep --model ../shared/models/arith/arith-step1500.gguf --types q8_0,q5_0,q4_0`,
    )
    .action(async (flags: Flags) => {
      const types = flags.types.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
      const crossCheck = flags.crossCheck === "none" ? null : (flags.crossCheck?.toLowerCase() ?? (types.includes("q4_0") ? "q4_0" : (types.at(-1) ?? null)));
      await runStudy(flags, (study) => quantizeSweep({ ...study, modelFile: flags.model, types, crossCheck }), quantizationTable);
    });
}
