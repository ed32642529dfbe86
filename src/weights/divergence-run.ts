import { closeSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { LlamaBackend } from "../backends/llama.js";
import { baseDistributions, readBaseWindows, scoredPositions } from "./perplexity-kld.js";
import { DivergenceAccumulator, perplexity, type DivergenceStats } from "../core/divergence.js";
import { promptText } from "../core/prompt.js";
import type { PromptVariant } from "../core/sweep.js";
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
  /** Mean KLD of each text, in order (asked for by the cross-check). */
  textMeans?: number[];
}

export async function loadScorer(path: string, runtime: RuntimeSettings): Promise<LlamaBackend> {
  const backend = new LlamaBackend();
  await backend.load({ backend: "llama", path, runtime });
  return backend;
}

/** Scorers whose `expected` is the answer text itself (others' is a pattern, a label or a canary). */
const ANSWER_SCORERS = new Set(["exact", "normalized", "normalised", "numeric", "contains", "similarity"]);

/**
 * Each task's prompt, rendered as the run rendered it (the cell's prompt variant: template,
 * system message, few-shot examples), followed by its answer: distributions at the prompt's last
 * token and at every answer token (the last one predicts what follows the answer: end of
 * sequence for a model that stops). The answer is the expected text where the task's scorer
 * compares against one, else `fallback` (the reference model's own output); a task with neither
 * is skipped.
 */
export function suiteTexts(backend: LlamaBackend, suite: Suite, variant: PromptVariant, fallback: ReadonlyMap<string, string>): ScoredText[] {
  const out: ScoredText[] = [];
  for (const task of suite.tasks) {
    const scorer = (task.scorer ?? suite.scorer).type;
    const expected = typeof task.expected === "string" || typeof task.expected === "number" ? String(task.expected) : undefined;
    const answer = ANSWER_SCORERS.has(scorer) && expected !== undefined ? expected : fallback.get(task.id);
    if (answer === undefined || answer === "") continue;
    const prompt = backend.preparePromptNow(promptText(suite, variant, task), suite.chatTemplate, variant.system);
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
        const written = writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
        if (written !== d.byteLength) throw new Error(`short write to ${file} (${written} of ${d.byteLength} bytes): disk full?`);
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

export async function compareWithReference(backend: LlamaBackend, texts: readonly ScoredText[], file: string, vocabulary: number, perText = false): Promise<DivergenceResult> {
  const textMeans: number[] = [];
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
      let textSum = 0;
      const area = byArea.get(t.area) ?? { sum: 0, n: 0 };
      byArea.set(t.area, area);
      for (const d of dists) {
        if (d.length !== vocabulary) throw new Error(`the variant's vocabulary has ${d.length} tokens, the reference's ${vocabulary}`);
        if (readSync(fd, bytes, 0, bytes.length, offset) !== bytes.length) throw new Error(`the reference distributions in ${file} end early`);
        offset += bytes.length;
        const kld = all.add(reference, d, t.key);
        area.sum += kld;
        area.n++;
        textSum += kld;
      }
      if (perText) textMeans.push(dists.length ? textSum / dists.length : Number.NaN);
      for (let k = 0; k < t.answerTokens; k++) logProb += dists[k]?.[t.tokens[t.from + 1 + k] as number] ?? Number.NaN;
      answerTokens += t.answerTokens;
    }
  } finally {
    closeSync(fd);
  }
  const areas = Object.fromEntries([...byArea].filter(([, a]) => a.n > 0).map(([name, a]) => [name, a.sum / a.n]));
  return { ...all.stats(), areas, answerPerplexity: perplexity(logProb, answerTokens), answerTokens, ms: performance.now() - started, ...(perText ? { textMeans } : {}) };
}

export function removeScratch(file: string): void {
  rmSync(file, { force: true });
}

/** llama-perplexity leaves out tokens whose reference log-probability is −16 or below. */
export const LLAMA_PERPLEXITY_FLOOR = -16;

/**
 * A model's distributions over llama-perplexity's own windows, scored against the reference it
 * stored in its base file (decoded, with its −16 floor): the same reference, positions and
 * formula as its --kl-divergence pass, so the two must agree window by window.
 */
export async function compareWithBase(backend: LlamaBackend, baseFile: string): Promise<DivergenceStats & { windowMeans: number[] }> {
  const { windows, contextSize } = readBaseWindows(baseFile);
  const { first, count } = scoredPositions(contextSize);
  const texts = windowTexts(windows, backend.bosToken(), first, count);
  const all = new DivergenceAccumulator(LLAMA_PERPLEXITY_FLOOR);
  const windowMeans: number[] = [];
  let i = 0;
  for (const reference of baseDistributions(baseFile)) {
    const t = texts[i++] as ScoredText;
    const dists = (await backend.nextTokenLogProbs(t.tokens.slice(0, t.from + t.count), t.from)).slice(0, t.count);
    let sum = 0;
    dists.forEach((d, k) => {
      sum += all.add(reference[k] as Float32Array, d, t.key);
    });
    windowMeans.push(sum / dists.length);
  }
  return { ...all.stats(), windowMeans };
}
