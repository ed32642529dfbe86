import type { Command } from "commander";
import { HeldoutError } from "../core/errors.js";
import { ablationTable } from "../report/ablation.js";
import { loadModelSpec, resolveModel } from "../store/models.js";
import { ablate, parseAblations } from "../weights/ablate.js";
import { blockCount, deleteAblated } from "../weights/ablated-gguf.js";
import { ggufTensors } from "../weights/gguf-tensors.js";
import { runStudy, studyOptions, type StudyFlags } from "./study.js";

interface Flags extends StudyFlags {
  model?: string;
  blocks: string;
  parts: string;
  control: boolean;
  deleteVariants?: boolean;
  clean?: boolean;
}

export function registerAblate(program: Command): void {
  const command = program
    .command("ablate")
    .description("zero blocks' attention or feed-forward output projections and measure each area's pass-rate change against the intact model (paired verdicts, blocks × areas heat map)")
    .option("--model <file>", "model manifest or .gguf path")
    .option("--blocks <list>", "all, or block numbers like 0,3", "all")
    .option("--parts <list>", "what to zero in each block, one variant per item: attn, ffn, attn+ffn", "attn,ffn")
    .option("--no-control", "skip the control copy (nothing zeroed) that checks the intact outputs are reproduced")
    .option("--delete-variants", "delete the variant files from the cache after the run")
    .option("--clean", "only delete cached variants (of --model, or all) and exit");
  studyOptions(command, "ablation.json")
    .addHelpText(
      "after",
      `
Variants are written to \${HELDOUT_CACHE_DIR:-~/.cache/heldout}/ablated/<source sha256>/ (never into the
repository); --delete-variants or --clean removes them.

Example:
  heldout ablate --model models/arith-step6000.yaml --blocks all --parts attn,ffn`,
    )
    .action(async (flags: Flags) => {
      if (flags.clean) {
        const sha = flags.model ? (await resolveModel(loadModelSpec(flags.model))).sha256 : undefined;
        process.stdout.write(`deleted ${deleteAblated(sha)}\n`);
        return;
      }
      if (!flags.model) throw new HeldoutError("invalid-option", "--model is required: the model to ablate (a manifest or a .gguf path)", { field: "model" });
      const spec = loadModelSpec(flags.model);
      const source = await resolveModel(spec);
      const ablations = parseAblations(flags.blocks, flags.parts, blockCount(await ggufTensors(source.path)));
      await runStudy(flags, (study) => ablate({ ...study, modelFile: flags.model as string, ablations, control: flags.control !== false, deleteVariants: flags.deleteVariants === true }), ablationTable);
    });
}
