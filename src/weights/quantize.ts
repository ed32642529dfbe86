import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HeldoutError, StoppedBySignal } from "../core/errors.js";
import { runLlamaTool } from "../backends/llama-tools.js";
import { cacheDir } from "../store/models.js";
import { blockSize, ggufTensors } from "./gguf-tensors.js";

/**
 * Quantized variants of a model made by llama.cpp's llama-quantize, cached outside the repository
 * by the source file's sha256 and the type, so a sweep run twice quantizes once.
 */

/** A tensor whose row length the requested type's blocks cannot split: llama-quantize chose another type. */
export interface ShapeFallback {
  tensor: string;
  rowLength: number;
  got: string;
}

export interface QuantizedVariant {
  /** As asked (lower case): q8_0, q4_k_m... */
  type: string;
  path: string;
  sizeBytes: number;
  /** llama-quantize's own count ("N of M tensor(s) required fallback quantization"). */
  fallbackCount: number;
  shapeFallbacks: ShapeFallback[];
  /** Tensors per resulting ggml type. */
  tensorTypes: Record<string, number>;
  /** Time llama-quantize took (null when the variant came from the cache). */
  quantizeMs: number | null;
  cached: boolean;
}

/** The block type a file type is built on: q5_k_m → q5_k, q8_0 → q8_0. */
export function baseType(type: string): string {
  return type.toLowerCase().replace(/^(q[2-6]_k)_[sml]$/, "$1");
}

export function quantizeDir(sourceSha256: string): string {
  return join(cacheDir(), "quantized", sourceSha256.slice(0, 16));
}

export async function quantizedVariant(sourcePath: string, sourceSha256: string, type: string, threads: number): Promise<QuantizedVariant> {
  const t = type.toLowerCase();
  const dir = quantizeDir(sourceSha256);
  const path = join(dir, `${t}.gguf`);
  const metaPath = join(dir, `${t}.json`);
  let quantizeMs: number | null = null;
  let fallbackCount: number;
  const cached = existsSync(path) && existsSync(metaPath);
  if (cached) {
    fallbackCount = (JSON.parse(readFileSync(metaPath, "utf8")) as { fallbackCount: number }).fallbackCount;
  } else {
    mkdirSync(dir, { recursive: true });
    // Unique per process: two sweeps of one source never write the same partial file.
    const partial = `${path}.${process.pid}.partial`;
    const started = performance.now();
    let log: string;
    try {
      log = await runLlamaTool("llama-quantize", [sourcePath, partial, t.toUpperCase(), String(threads)]);
    } catch (error) {
      rmSync(partial, { force: true });
      if (error instanceof StoppedBySignal) throw new HeldoutError("interrupted", `interrupted while quantizing ${t} (nothing was cached for it); run the same command again`, {}, 130);
      if (error instanceof HeldoutError) throw error;
      throw new HeldoutError("quantize-failed", `llama-quantize could not make ${t} from ${sourcePath}: ${(error as Error).message}`, { field: "types" });
    }
    quantizeMs = performance.now() - started;
    fallbackCount = Number(/(\d+) of \d+ tensor\(s\) required fallback quantization/.exec(log)?.[1] ?? 0);
    writeFileSync(join(dir, `${t}.log`), log);
    writeFileSync(metaPath, JSON.stringify({ type: t, source: sourcePath, sourceSha256, fallbackCount }, null, 2));
    // Renamed only when complete: a killed sweep never leaves a truncated variant in the cache.
    renameSync(partial, path);
  }
  const tensors = await ggufTensors(path);
  const wanted = blockSize(baseType(t));
  const tensorTypes: Record<string, number> = {};
  const shapeFallbacks: ShapeFallback[] = [];
  for (const tensor of tensors) {
    tensorTypes[tensor.type] = (tensorTypes[tensor.type] ?? 0) + 1;
    const rowLength = tensor.dims[0] ?? 0;
    if (tensor.dims.length >= 2 && rowLength % wanted !== 0) shapeFallbacks.push({ tensor: tensor.name, rowLength, got: tensor.type });
  }
  return { type: t, path, sizeBytes: statSync(path).size, fallbackCount, shapeFallbacks, tensorTypes, quantizeMs, cached };
}
