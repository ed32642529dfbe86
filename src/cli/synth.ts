import { Option, type Command } from "commander";
import { HeldoutError } from "../core/errors.js";
import { SHAPES, type Shape, type WeightType } from "../synth/shapes.js";
import { synthesize } from "../synth/synth.js";

export function registerSynth(program: Command): void {
  program
    .command("synth")
    .description("write a GGUF of any llama shape with random weights (for profiling a model you have not downloaded)")
    .requiredOption("--out <file.gguf>", "where to write it")
    .addOption(new Option("--shape <name>", "a named shape").choices(Object.keys(SHAPES)))
    .option("--layers <n>", "blocks")
    .option("--embd <n>", "embedding width")
    .option("--ff <n>", "feed-forward width")
    .option("--heads <n>", "attention heads")
    .option("--kv-heads <n>", "key/value heads")
    .option("--context <n>", "trained context length", "4096")
    .addOption(new Option("--type <type>", "weight type").choices(["f32", "f16", "q8_0", "q4_0"]).default("q4_0"))
    .option("--tokenizer <file.gguf>", "copy the tokenizer from this GGUF", "../shared/models/stories260K.gguf")
    .addHelpText("after", "\nExample:\n  heldout synth --shape 7b --type q4_0 --out /tmp/7b-q4_0.gguf && heldout profile --model /tmp/7b-q4_0.gguf")
    .action(async (flags: Record<string, string>) => {
      const named = flags.shape ? SHAPES[flags.shape] : undefined;
      const num = (k: string, fallback?: number) => {
        const v = flags[k] ?? (fallback === undefined ? undefined : String(fallback));
        if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) throw new HeldoutError("invalid-option", `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a whole number ≥ 1 (or give --shape)`);
        return Number(v);
      };
      const shape: Shape = {
        layers: num("layers", named?.layers),
        embd: num("embd", named?.embd),
        ff: num("ff", named?.ff),
        heads: num("heads", named?.heads),
        kvHeads: num("kvHeads", named?.kvHeads),
        context: num("context", named?.context),
      };
      const started = performance.now();
      const result = await synthesize({ shape, type: flags.type as WeightType, out: flags.out as string, tokenizerFrom: flags.tokenizer as string, name: `synthetic-${flags.shape ?? "custom"}-${flags.type}` });
      process.stdout.write(
        `wrote ${flags.out}: ${(result.bytes / 2 ** 20).toFixed(1)} MiB, ${(result.parameters / 1e6).toFixed(1)}M parameters (vocabulary ${result.vocab} from ${flags.tokenizer}), ${shape.layers} layers × ${shape.embd} embd × ${shape.ff} ff, ${shape.heads}/${shape.kvHeads} heads, ${flags.type}, in ${((performance.now() - started) / 1000).toFixed(1)} s. Its outputs are noise: use it for speed and memory only.\n`,
      );
    });
}
