import { readGgufFileInfo } from "node-llama-cpp";
import { writeGguf, type GgufValue } from "./gguf-writer.js";
import { GGML_TYPES, parameterCount, tensorPlan, type Shape, type WeightType } from "./shapes.js";

/**
 * `heldout synth`: a llama-architecture GGUF of any shape with random weights, and the tokenizer
 * of a small real GGUF, so "how would a 70B Q4_0 run on this box" can be profiled without the
 * download. Marked `heldout.synthetic` in its metadata: the profiler labels its results.
 */
export interface SynthOptions {
  shape: Shape;
  type: WeightType;
  out: string;
  tokenizerFrom: string;
  name: string;
}

export async function synthesize(options: SynthOptions): Promise<{ bytes: number; parameters: number; vocab: number }> {
  const source = await readGgufFileInfo(options.tokenizerFrom);
  const tok = source.metadata.tokenizer?.ggml;
  if (!tok?.tokens) throw new Error(`${options.tokenizerFrom} has no tokenizer.ggml.tokens to copy`);
  const vocab = tok.tokens.length;
  const { shape } = options;
  if (shape.embd % shape.heads !== 0 || shape.heads % shape.kvHeads !== 0) throw new Error("embd must divide into heads, and heads into kv heads");
  const tensors = tensorPlan(shape, vocab, options.type);
  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  const metadata: Record<string, GgufValue> = {
    "general.architecture": { type: "string", value: "llama" },
    "general.name": { type: "string", value: options.name },
    "general.alignment": u32(32),
    "general.file_type": u32(GGML_TYPES[options.type].fileType),
    "heldout.synthetic": { type: "bool", value: true },
    "llama.context_length": u32(shape.context),
    "llama.embedding_length": u32(shape.embd),
    "llama.block_count": u32(shape.layers),
    "llama.feed_forward_length": u32(shape.ff),
    "llama.attention.head_count": u32(shape.heads),
    "llama.attention.head_count_kv": u32(shape.kvHeads),
    "llama.attention.layer_norm_rms_epsilon": { type: "f32", value: 1e-5 },
    "llama.rope.dimension_count": u32(shape.embd / shape.heads),
    "tokenizer.ggml.model": { type: "string", value: String(tok.model ?? "llama") },
    "tokenizer.ggml.tokens": { type: "strings", value: [...tok.tokens] },
  };
  if (tok.scores) metadata["tokenizer.ggml.scores"] = { type: "f32s", value: [...tok.scores] };
  if (tok.token_type) metadata["tokenizer.ggml.token_type"] = { type: "i32s", value: [...tok.token_type] };
  for (const key of ["bos_token_id", "eos_token_id", "unknown_token_id"] as const) {
    const v = tok[key];
    if (typeof v === "number" && v < vocab) metadata[`tokenizer.ggml.${key}`] = u32(v);
  }
  const bytes = writeGguf(options.out, metadata, tensors);
  return { bytes, parameters: parameterCount(tensors), vocab };
}
