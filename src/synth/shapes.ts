/**
 * Model shapes for synthetic checkpoints (llama architecture). The vocabulary comes from the small
 * GGUF whose tokenizer is copied, so embedding and output matrices are smaller than the real
 * model's; the per-layer weights, which dominate memory traffic per token, are true to shape.
 */
export interface Shape {
  layers: number;
  embd: number;
  ff: number;
  heads: number;
  kvHeads: number;
  context: number;
}

export const SHAPES: Record<string, Shape> = {
  stories260k: { layers: 5, embd: 64, ff: 172, heads: 8, kvHeads: 4, context: 2048 },
  "1b": { layers: 16, embd: 2048, ff: 8192, heads: 32, kvHeads: 8, context: 4096 },
  "3b": { layers: 28, embd: 3072, ff: 8192, heads: 24, kvHeads: 8, context: 4096 },
  "7b": { layers: 32, embd: 4096, ff: 11008, heads: 32, kvHeads: 32, context: 4096 },
  "8b": { layers: 32, embd: 4096, ff: 14336, heads: 32, kvHeads: 8, context: 8192 },
  "13b": { layers: 40, embd: 5120, ff: 13824, heads: 40, kvHeads: 40, context: 4096 },
  "70b": { layers: 80, embd: 8192, ff: 28672, heads: 64, kvHeads: 8, context: 8192 },
};

export type WeightType = "f32" | "f16" | "q8_0" | "q4_0";

/** ggml's type ids, bytes per block and elements per block. */
export const GGML_TYPES: Record<WeightType, { id: number; blockBytes: number; blockSize: number; fileType: number }> = {
  f32: { id: 0, blockBytes: 4, blockSize: 1, fileType: 0 },
  f16: { id: 1, blockBytes: 2, blockSize: 1, fileType: 1 },
  q4_0: { id: 2, blockBytes: 18, blockSize: 32, fileType: 2 },
  q8_0: { id: 8, blockBytes: 34, blockSize: 32, fileType: 7 },
};

export interface TensorPlan {
  name: string;
  /** ggml order: dims[0] is the row length. */
  dims: number[];
  type: WeightType;
  /** Norm weights are ones; everything else small random values. */
  fill: "ones" | "random";
}

/** The tensors of a llama model; a matrix whose rows do not split into 32-blocks stays f32, as llama-quantize does. */
export function tensorPlan(shape: Shape, vocab: number, type: WeightType): TensorPlan[] {
  const kvDim = (shape.embd / shape.heads) * shape.kvHeads;
  const matrix = (name: string, dims: number[]): TensorPlan => ({ name, dims, type: GGML_TYPES[type].blockSize > 1 && (dims[0] as number) % 32 !== 0 ? "f32" : type, fill: "random" });
  const norm = (name: string): TensorPlan => ({ name, dims: [shape.embd], type: "f32", fill: "ones" });
  const out: TensorPlan[] = [matrix("token_embd.weight", [shape.embd, vocab]), norm("output_norm.weight"), matrix("output.weight", [shape.embd, vocab])];
  for (let i = 0; i < shape.layers; i++) {
    out.push(
      matrix(`blk.${i}.attn_q.weight`, [shape.embd, shape.embd]),
      matrix(`blk.${i}.attn_k.weight`, [shape.embd, kvDim]),
      matrix(`blk.${i}.attn_v.weight`, [shape.embd, kvDim]),
      matrix(`blk.${i}.attn_output.weight`, [shape.embd, shape.embd]),
      norm(`blk.${i}.attn_norm.weight`),
      matrix(`blk.${i}.ffn_gate.weight`, [shape.embd, shape.ff]),
      matrix(`blk.${i}.ffn_down.weight`, [shape.ff, shape.embd]),
      matrix(`blk.${i}.ffn_up.weight`, [shape.embd, shape.ff]),
      norm(`blk.${i}.ffn_norm.weight`),
    );
  }
  return out;
}

export function tensorBytes(t: TensorPlan): number {
  const g = GGML_TYPES[t.type];
  const elements = t.dims.reduce((a, b) => a * b, 1);
  return (elements / g.blockSize) * g.blockBytes;
}

/** Parameters, for FLOP estimates and reports. */
export function parameterCount(plan: readonly TensorPlan[]): number {
  return plan.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);
}
