import type { RunRecord } from "./types.js";

/**
 * Does the model know when it is wrong? From each generation's token probabilities (pure):
 * confidence = exp(mean log-probability of the output's tokens), the geometric-mean token
 * probability. Per cell: a reliability table (10 equal-width confidence bins: how often the
 * answers in each bin pass), the expected calibration error, the confidently-wrong rate (failed
 * answers at or above a confidence threshold, as a share of all answers), the abstention rate
 * (answers that say they do not know), and accuracy when the least confident answers are set
 * aside (risk–coverage).
 */

export const CONFIDENT = 0.9;
export const ABSTAIN_PATTERNS = [/\bi (?:do not|don't) know\b/i, /\bnot sure\b/i, /\b(?:cannot|can't|unable to) (?:answer|say|tell)\b/i, /\bno idea\b/i, /^\s*unknown\s*\.?\s*$/i];

export interface Calibration {
  /** Generations with token probabilities (the rest have none: servers, outputs from a file). */
  n: number;
  meanConfidence: number | null;
  bins: { low: number; high: number; n: number; confidence: number | null; accuracy: number | null }[];
  /** Σ (n_bin ÷ n) × |accuracy_bin − confidence_bin|. */
  ece: number | null;
  threshold: number;
  /** Where the threshold came from: the default, or chosen on a dev run (a sealed split's test run). */
  thresholdSource: string;
  /** Failed answers with confidence ≥ threshold, ÷ all answers with a confidence. */
  confidentlyWrong: number | null;
  /** Answers matching an "I don't know" pattern, ÷ all answers. */
  abstention: number | null;
  /** Accuracy of the most confident share of answers, from 10% to 100%. */
  riskCoverage: { coverage: number; accuracy: number | null; n: number }[];
}

/**
 * A threshold chosen on dev: the lowest confidence above which the dev answers are at least
 * `precision` right (so "confident" means what it meant on dev); 1 when no such level exists.
 */
export function thresholdOnDev(dev: readonly RunRecord[], precision = 0.95): number | null {
  const xs = dev.filter((r) => r.finishReason !== "error" && r.confidence).map((r) => ({ c: Math.exp((r.confidence as NonNullable<RunRecord["confidence"]>).meanLogprob), pass: r.score.pass }));
  if (xs.length === 0) return null;
  xs.sort((a, b) => b.c - a.c);
  let passed = 0;
  let best = 1;
  xs.forEach((x, i) => {
    if (x.pass) passed++;
    if (passed / (i + 1) >= precision) best = x.c;
  });
  return best;
}

export function calibration(records: readonly RunRecord[], threshold = CONFIDENT, thresholdSource = `fixed at ${CONFIDENT}`): Calibration | null {
  const scored = records.filter((r) => r.finishReason !== "error");
  const withConf = scored.filter((r) => r.confidence).map((r) => ({ c: Math.exp((r.confidence as NonNullable<RunRecord["confidence"]>).meanLogprob), pass: r.score.pass }));
  if (scored.length === 0) return null;
  const abstention = scored.filter((r) => r.abstained ?? abstains(r.output)).length / scored.length;
  // Without token probabilities (servers without them, outputs from a file) only abstention is known.
  if (withConf.length === 0) return { n: 0, meanConfidence: null, bins: [], ece: null, threshold, thresholdSource, confidentlyWrong: null, abstention, riskCoverage: [] };
  const n = withConf.length;
  const bins = Array.from({ length: 10 }, (_, i) => {
    const [low, high] = [i / 10, (i + 1) / 10];
    const inBin = withConf.filter((x) => x.c >= low && (i === 9 ? x.c <= high : x.c < high));
    return {
      low,
      high,
      n: inBin.length,
      confidence: inBin.length ? inBin.reduce((s, x) => s + x.c, 0) / inBin.length : null,
      accuracy: inBin.length ? inBin.filter((x) => x.pass).length / inBin.length : null,
    };
  });
  const ece = bins.reduce((s, b) => s + (b.n && b.confidence !== null && b.accuracy !== null ? (b.n / n) * Math.abs(b.accuracy - b.confidence) : 0), 0);
  const sorted = [...withConf].sort((a, b) => b.c - a.c);
  const riskCoverage = Array.from({ length: 10 }, (_, i) => {
    const coverage = (i + 1) / 10;
    const kept = sorted.slice(0, Math.max(1, Math.round(coverage * n)));
    return { coverage, n: kept.length, accuracy: kept.filter((x) => x.pass).length / kept.length };
  });
  return {
    n,
    meanConfidence: withConf.reduce((s, x) => s + x.c, 0) / n,
    bins,
    ece,
    threshold,
    thresholdSource,
    confidentlyWrong: withConf.filter((x) => x.c >= threshold && !x.pass).length / n,
    abstention,
    riskCoverage,
  };
}

/** Whether an answer abstains: the suite's patterns (case-insensitive) when it has any, else ABSTAIN_PATTERNS. */
export function abstains(output: string, patterns?: readonly string[]): boolean {
  return patterns?.length ? patterns.some((p) => new RegExp(p, "i").test(output)) : ABSTAIN_PATTERNS.some((p) => p.test(output));
}
