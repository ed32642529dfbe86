import { closeSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { LlamaBackend } from "../backends/llama.js";
import { DivergenceAccumulator, perplexity, type DivergenceStats } from "../core/divergence.js";
import { promptText } from "../core/prompt.js";
import { DEFAULT_PROMPT } from "../core/sweep.js";
import type { RuntimeSettings, Suite } from "../core/types.js";

/**
 * Teacher-forced next-token distributions of a reference model and its variants over the same
 * token sequences. The reference's distributions are written once to a scratch file and read
 * back for each variant, so only one model is loaded at a time, whatever the model's size.
 */

/** One sequence to score: distributions after positions from … from + count − 1. */
export interface ScoredText {
  key: string;
  area: string;
  tokens: number[];
  from: number;
  count: number;
  /** Tokens of the expected answer (scored for perplexity): tokens[from + 1 … from + answerTokens]. */
  answerTokens: number;
}

export interface DivergenceResult extends DivergenceStats {
  /** Mean KL divergence per area. */
  areas: Record<string, number>;
  /** Perplexity of the expected answers' tokens under this model (teacher-forced). */
  answerPerplexity: number | null;
  answerTokens: number;
  ms: number;
}

export async function loadScorer(path: string, runtime: RuntimeSettings): Promise<LlamaBackend> {
  const backend = new LlamaBackend();
  await backend.load({ backend: "llama", path, runtime });
  return backend;
}

/**
 * Each task's prompt (the suite's template, as a run renders it) followed by its expected answer:
 * distributions at the prompt's last token and at every answer token (the last one predicts what
 * follows the answer: end of sequence for a model that stops). Tasks without a textual answer use
 * `fallback` (the reference model's own output), or are skipped.
 */
export function suiteTexts(backend: LlamaBackend, suite: Suite, fallback: ReadonlyMap<string, string>): ScoredText[] {
  const out: ScoredText[] = [];
  for (const task of suite.tasks) {
    const answer = typeof task.expected === "string" || typeof task.expected === "number" ? String(task.expected) : fallback.get(task.id);
    if (answer === undefined || answer === "") continue;
    const prompt = backend.preparePromptNow(promptText(suite, DEFAULT_PROMPT, task), suite.chatTemplate);
    if (prompt.tokenIds.length === 0) continue;
    const { tokens } = backend.continuationTokens(prompt, answer);
    out.push({ key: task.id, area: task.area ?? "(none)", tokens: [...prompt.tokenIds, ...tokens], from: prompt.tokenIds.length - 1, count: tokens.length + 1, answerTokens: tokens.length });
  }
  return out;
}

/** llama-perplexity's windows: BOS first, scored from the middle to the second-last position. */
export function windowTexts(windows: readonly number[][], bos: number | null, first: number, count: number): ScoredText[] {
  return windows.map((w, i) => ({ key: `window-${i}`, area: "(text)", tokens: bos === null ? [...w] : [bos, ...w.slice(1)], from: first, count, answerTokens: 0 }));
}

export interface ReferenceResult {
  positions: number;
  vocabulary: number;
  answerPerplexity: number | null;
  answerTokens: number;
  ms: number;
}

export async function writeReference(backend: LlamaBackend, texts: readonly ScoredText[], file: string): Promise<ReferenceResult> {
  const started = performance.now();
  const fd = openSync(file, "w");
  let logProb = 0;
  let answerTokens = 0;
  let positions = 0;
  let vocabulary = 0;
  try {
    for (const t of texts) {
      const dists = (await backend.nextTokenLogProbs(t.tokens.slice(0, t.from + t.count), t.from)).slice(0, t.count);
      for (const d of dists) {
        vocabulary = d.length;
        writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      }
      positions += dists.length;
      for (let k = 0; k < t.answerTokens; k++) logProb += dists[k]?.[t.tokens[t.from + 1 + k] as number] ?? Number.NaN;
      answerTokens += t.answerTokens;
    }
  } finally {
    closeSync(fd);
  }
  return { positions, vocabulary, answerPerplexity: perplexity(logProb, answerTokens), answerTokens, ms: performance.now() - started };
}

export async function compareWithReference(backend: LlamaBackend, texts: readonly ScoredText[], file: string, vocabulary: number): Promise<DivergenceResult> {
  const started = performance.now();
  const all = new DivergenceAccumulator();
  const byArea = new Map<string, { sum: number; n: number }>();
  const fd = openSync(file, "r");
  const reference = new Float32Array(vocabulary);
  const bytes = new Uint8Array(reference.buffer);
  let offset = 0;
  let logProb = 0;
  let answerTokens = 0;
  try {
    for (const t of texts) {
      const dists = (await backend.nextTokenLogProbs(t.tokens.slice(0, t.from + t.count), t.from)).slice(0, t.count);
      const area = byArea.get(t.area) ?? { sum: 0, n: 0 };
      byArea.set(t.area, area);
      for (const d of dists) {
        if (d.length !== vocabulary) throw new Error(`the variant's vocabulary has ${d.length} tokens, the reference's ${vocabulary}`);
        if (readSync(fd, bytes, 0, bytes.length, offset) !== bytes.length) throw new Error(`the reference distributions in ${file} end early`);
        offset += bytes.length;
        const kld = all.add(reference, d);
        area.sum += kld;
        area.n++;
      }
      for (let k = 0; k < t.answerTokens; k++) logProb += dists[k]?.[t.tokens[t.from + 1 + k] as number] ?? Number.NaN;
      answerTokens += t.answerTokens;
    }
  } finally {
    closeSync(fd);
  }
  const areas = Object.fromEntries([...byArea].filter(([, a]) => a.n > 0).map(([name, a]) => [name, a.sum / a.n]));
  return { ...all.stats(), areas, answerPerplexity: perplexity(logProb, answerTokens), answerTokens, ms: performance.now() - started };
}

export function removeScratch(file: string): void {
  rmSync(file, { force: true });
}
