import { existsSync, readFileSync, statSync } from "node:fs";
import { runLlamaTool } from "../backends/llama-tools.js";

/**
 * llama.cpp's own KL-divergence measurement (llama-perplexity --kl-divergence), the reference
 * heldout's figures are checked against: the source model's log-probabilities over a text are
 * saved to a base file, then a variant is scored against them. The base file also holds the
 * token windows it used, so heldout can score exactly the same positions.
 */


export interface PerplexityKld {
  meanKld: number;
  /** llama-perplexity's stated uncertainty of the mean (its standard error). */
  meanKldError: number;
  p99Kld: number | null;
  sameTop: number | null;
  sameTopError: number | null;
  /** Passes it took to get the statistics printed (see kldAgainstBase). */
  attempts?: number;
  /** The running mean KLD it printed after each window (5 decimals), in window order, with its stated error. */
  runningMeans: number[];
  runningErrors: number[];
}

/** The token windows of a base file: n_chunk × n_ctx tokens (each window's first token is replaced by BOS when evaluated). */
export interface BaseWindows {
  contextSize: number;
  vocabulary: number;
  windows: number[][];
}

const run = (args: string[]) => runLlamaTool("llama-perplexity", args);

/** Saves the source model's log-probabilities over `textFile` in windows of `contextSize` tokens. */
export async function writeKldBase(modelPath: string, textFile: string, baseFile: string, contextSize: number, threads: number): Promise<void> {
  const log = await run(["-m", modelPath, "-f", textFile, "-c", String(contextSize), "-b", String(contextSize), "-t", String(threads), "--kl-divergence-base", baseFile]);
  // With too little text it exits 0 having written only a header: say so instead of failing later.
  const need = /you need at least (\d+) tokens/.exec(log);
  if (need) throw new Error(`the suite's text is too short for llama-perplexity's windows of ${contextSize} tokens (it needs at least ${need[1]} tokens)`);
  const size = existsSync(baseFile) ? statSync(baseFile).size : 0;
  if (size <= 20) throw new Error(`llama-perplexity wrote no log-probabilities to ${baseFile} (${size} bytes)`);
}

/**
 * llama-perplexity's KLD pass over a base file. In about 2 of 30 sweeps on this project's machine
 * its output lacked the statistics (cause not found: the tool exited 0 and the same command then
 * printed them), so a pass without them is run again, up to three times in all.
 */
export async function kldAgainstBase(modelPath: string, baseFile: string, contextSize: number, threads: number): Promise<PerplexityKld> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const log = await run(["-m", modelPath, "--kl-divergence-base", baseFile, "--kl-divergence", "-c", String(contextSize), "-b", String(contextSize), "-t", String(threads)]);
    try {
      return { ...parseKldLog(log), attempts: attempt };
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError as Error;
}

export function parseKldLog(log: string): PerplexityKld {
  const mean = /Mean\s+KLD:\s+([-\d.e+]+)\s+±\s+([-\d.e+]+)/.exec(log);
  if (!mean) throw new Error(`llama-perplexity printed no "Mean KLD" line:\n${log.trim().split("\n").slice(-5).join("\n")}`);
  const p99 = /99\.0%\s+KLD:\s+([-\d.e+]+)/.exec(log);
  const same = /Same top p:\s+([-\d.e+]+)\s+±\s+([-\d.e+]+)\s*%/.exec(log);
  // Per-window lines: "   1    PPL ± e    ln(PPL(Q)/PPL(base)) ± e    KLD ± e    Δp RMS ± e %    same top ± e %".
  const runningMeans: number[] = [];
  const runningErrors: number[] = [];
  for (const m of log.matchAll(/^\s*(\d+)\s+\S+\s+±\s+\S+\s+\S+\s+±\s+\S+\s+(\S+)\s+±\s+(\S+)/gm)) {
    runningMeans[Number(m[1]) - 1] = Number(m[2]);
    runningErrors[Number(m[1]) - 1] = Number(m[3]);
  }
  return {
    runningMeans,
    runningErrors,
    meanKld: Number(mean[1]),
    meanKldError: Number(mean[2]),
    p99Kld: p99 ? Number(p99[1]) : null,
    sameTop: same ? Number(same[1]) / 100 : null,
    sameTopError: same ? Number(same[2]) / 100 : null,
  };
}

export function readBaseWindows(baseFile: string): BaseWindows {
  const b = readFileSync(baseFile);
  if (b.toString("latin1", 0, 8) !== "_logits_") throw new Error(`${baseFile} is not a llama-perplexity logits file`);
  const contextSize = b.readUInt32LE(8);
  const vocabulary = b.readInt32LE(12);
  const chunks = b.readInt32LE(16);
  const windows: number[][] = [];
  for (let c = 0; c < chunks; c++) {
    const w: number[] = [];
    for (let k = 0; k < contextSize; k++) w.push(b.readInt32LE(20 + 4 * (c * contextSize + k)));
    windows.push(w);
  }
  return { contextSize, vocabulary, windows };
}

/** The positions llama-perplexity scores in each window: the second half, from n_ctx/2 to n_ctx − 2 (each predicting the next token). */
export function scoredPositions(contextSize: number): { first: number; count: number } {
  const first = Math.floor(contextSize / 2);
  return { first, count: contextSize - 1 - first };
}

/**
 * The source's log-probabilities llama-perplexity stored in a base file, decoded, window by
 * window: each position is (scale, min) as two floats, then one uint16 per token with
 * log p = scale·q + min (logits more than 16 below the maximum are clamped to it). So the
 * cross-check can score a variant against exactly the reference llama-perplexity used.
 */
export function* baseDistributions(baseFile: string): Generator<Float32Array[]> {
  const b = readFileSync(baseFile);
  const { contextSize, vocabulary, windows } = readBaseWindows(baseFile);
  const { count } = scoredPositions(contextSize);
  const nv = 2 * Math.floor((vocabulary + 1) / 2) + 4;
  let offset = 20 + 4 * contextSize * windows.length;
  for (let w = 0; w < windows.length; w++) {
    const positions: Float32Array[] = [];
    for (let k = 0; k < count; k++) {
      if (offset + nv * 2 > b.length) throw new Error(`${baseFile} ends inside window ${w + 1}`);
      const scale = b.readFloatLE(offset);
      const min = b.readFloatLE(offset + 4);
      const lp = new Float32Array(vocabulary);
      for (let i = 0; i < vocabulary; i++) lp[i] = scale * b.readUInt16LE(offset + 8 + 2 * i) + min;
      positions.push(lp);
      offset += nv * 2;
    }
    yield positions;
  }
}
