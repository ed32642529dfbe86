import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../store/models.js";
import { ggufTensors, type TensorEntry } from "./gguf-tensors.js";

/**
 * A copy of a GGUF with some blocks' output projections zeroed: attention's (attn_output) and/or
 * the feed-forward's (ffn_down, and a mixture of experts' ffn_down_exps / ffn_down_shexp), with
 * their biases. A zeroed projection adds nothing to the residual stream, so that part of the block
 * passes its input through unchanged. All-zero bytes are 0.0 in every ggml type (a quantized
 * block's scale is 0), so the copy works for float and quantized files alike.
 */

export const ABLATION_PARTS = ["attn", "ffn"] as const;
export type AblationPart = (typeof ABLATION_PARTS)[number];

/** The ablation asks for something the model does not have (bad input, not an I/O failure). */
export class AblationRuleError extends Error {}

export interface Ablation {
  blocks: number[];
  parts: AblationPart[];
}

const PART_TENSORS: Record<AblationPart, RegExp> = {
  attn: /^attn_output\.(weight|bias)$/,
  ffn: /^ffn_down(_exps|_shexp)?\.(weight|bias)$/,
};

/** Blocks in the file: the largest N in blk.N.* plus one. */
export function blockCount(tensors: readonly TensorEntry[]): number {
  let max = -1;
  for (const t of tensors) {
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

export function ablatedTensors(tensors: readonly TensorEntry[], ablation: Ablation): TensorEntry[] {
  return tensors.filter((t) => {
    const m = /^blk\.(\d+)\.(.+)$/.exec(t.name);
    return m !== null && ablation.blocks.includes(Number(m[1])) && ablation.parts.some((p) => PART_TENSORS[p].test(m[2] as string));
  });
}

/** "b0-attn", "b0.3-attn+ffn"; "none" for the control (nothing zeroed). */
export function ablationName(a: Ablation): string {
  return a.blocks.length === 0 || a.parts.length === 0 ? "none" : `b${a.blocks.join(".")}-${a.parts.join("+")}`;
}

export function ablationDir(sourceSha256: string): string {
  return join(cacheDir(), "ablated", sourceSha256.slice(0, 16));
}

export interface AblatedFile {
  name: string;
  path: string;
  zeroed: { tensor: string; type: string; bytes: number }[];
  cached: boolean;
}

export async function writeAblated(sourcePath: string, sourceSha256: string, ablation: Ablation): Promise<AblatedFile> {
  const tensors = await ggufTensors(sourcePath);
  const zero = ablatedTensors(tensors, ablation);
  const blocks = blockCount(tensors);
  const outside = ablation.blocks.filter((b) => b < 0 || b >= blocks);
  if (outside.length) throw new AblationRuleError(`block(s) ${outside.join(", ")} do not exist: ${sourcePath} has blocks 0–${blocks - 1}`);
  for (const b of ablation.blocks) {
    for (const p of ablation.parts) {
      if (!zero.some((t) => t.name.startsWith(`blk.${b}.`) && PART_TENSORS[p].test(t.name.slice(`blk.${b}.`.length)))) {
        throw new AblationRuleError(`block ${b} of ${sourcePath} has no ${p === "attn" ? "attn_output" : "ffn_down"} tensor to zero (an architecture with other tensor names?)`);
      }
    }
  }
  const name = ablationName(ablation);
  const dir = ablationDir(sourceSha256);
  const path = join(dir, `${name}.gguf`);
  const zeroed = zero.map((t) => ({ tensor: t.name, type: t.type, bytes: t.span }));
  if (existsSync(path)) return { name, path, zeroed, cached: true };
  mkdirSync(dir, { recursive: true });
  // Unique per process: two ablations of one source never write the same partial file.
  const partial = `${path}.${process.pid}.partial`;
  try {
    copyFileSync(sourcePath, partial);
    const fd = openSync(partial, "r+");
    try {
      for (const t of zero) {
        const chunk = Buffer.alloc(Math.min(t.span, 1 << 20));
        for (let done = 0; done < t.span; done += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, t.span - done), t.fileOffset + done);
      }
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    rmSync(partial, { force: true });
    throw new Error(`could not write the ablated copy ${path}: ${(error as Error).message}`);
  }
  // Renamed only when complete: a killed run never leaves a half-zeroed variant in the cache.
  renameSync(partial, path);
  return { name, path, zeroed, cached: false };
}

/** Deletes a source's ablated variants (every source's when none is given); returns the folder removed. */
export function deleteAblated(sourceSha256?: string): string {
  const dir = sourceSha256 ? ablationDir(sourceSha256) : join(cacheDir(), "ablated");
  rmSync(dir, { recursive: true, force: true });
  return dir;
}
