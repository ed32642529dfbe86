import { promptText } from "../core/prompt.js";
import { DEFAULT_PROMPT } from "../core/sweep.js";
import type { Suite, Task } from "../core/types.js";

/**
 * `heldout contamination`, the pure part: which text is probed, where it is split, how a greedy
 * continuation is compared with the rest of the text, the deterministic perturbations whose
 * likelihood the exact text is compared against, and the verdict. The model I/O (tokenizing,
 * greedy continuation, per-token log-probabilities) is in ./contamination-run.ts.
 */

/** The prefix is the first half of the text's tokens (rounded up), but at least this many (BOS not counted). */
export const MIN_PREFIX_TOKENS = 4;
/** n of the n-gram overlap (token n-grams); shorter rests use their whole length. */
export const NGRAM = 3;
/** Reproduced: the greedy continuation's longest common prefix covers at least this share of the rest's tokens… */
export const REPRODUCED_LCP_SHARE = 0.5;
/** …or at least this share of the rest's token n-grams appear in the continuation. */
export const REPRODUCED_NGRAM_SHARE = 0.5;
/** Likelihood evidence: the exact text's mean log-likelihood per token beats the best perturbation's by more than this (nats). */
export const LIKELIHOOD_MARGIN = 2.0;
/** Each digit d becomes (d + DIGIT_SHIFT) mod 10. */
export const DIGIT_SHIFT = 3;

/** Common word pairs (both directions are used); whole words, case kept for a leading capital. */
export const SYNONYMS: readonly (readonly [string, string])[] = [
  ["big", "large"],
  ["small", "little"],
  ["happy", "glad"],
  ["sad", "unhappy"],
  ["fast", "quick"],
  ["begin", "start"],
  ["end", "finish"],
  ["answer", "reply"],
  ["buy", "purchase"],
  ["help", "assist"],
  ["show", "display"],
  ["use", "employ"],
  ["find", "locate"],
  ["give", "provide"],
  ["make", "create"],
  ["choose", "select"],
  ["correct", "right"],
  ["wrong", "incorrect"],
  ["easy", "simple"],
  ["hard", "difficult"],
  ["house", "home"],
  ["car", "automobile"],
  ["child", "kid"],
  ["friend", "pal"],
  ["look", "glance"],
  ["walk", "stroll"],
  ["said", "told"],
  ["went", "walked"],
  ["each", "every"],
  ["number", "figure"],
  ["total", "sum"],
  ["write", "compose"],
];

export interface ProbeText {
  /** The rendered prompt (the suite's template, DEFAULT_PROMPT: no few-shot, no system text). */
  prompt: string;
  /** The expected answer appended to it, when it is a string (else ""). */
  answer: string;
  /** prompt + answer, nothing between them: the text a model would have seen as one sample. */
  text: string;
}

/** The text probed for a task: its prompt rendered as a run renders it, followed by its expected answer when that is a string. */
export function probeText(suite: Suite, task: Task): ProbeText {
  const prompt = promptText(suite, DEFAULT_PROMPT, task);
  const answer = typeof task.expected === "string" ? task.expected : "";
  return { prompt, answer, text: prompt + answer };
}

/**
 * Where a text of `n` tokens (BOS excluded) is split: the first ⌈n/2⌉, at least MIN_PREFIX_TOKENS,
 * leaving at least one token to reproduce. Null when the text is too short to split.
 */
export function splitPoint(n: number, minPrefix = MIN_PREFIX_TOKENS): number | null {
  const at = Math.max(Math.ceil(n / 2), minPrefix);
  return at >= n ? null : at;
}

export function commonPrefixLength<T>(a: readonly T[] | string, b: readonly T[] | string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** The share of `reference`'s n-grams (as a multiset) found in `candidate` (n shrinks to the reference's length; 0 for an empty reference). */
export function ngramOverlap(reference: readonly number[], candidate: readonly number[], n = NGRAM): number {
  const k = Math.min(n, reference.length);
  if (k === 0) return 0;
  const counts = new Map<string, number>();
  for (let i = 0; i + k <= candidate.length; i++) {
    const key = candidate.slice(i, i + k).join(",");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let total = 0;
  let found = 0;
  for (let i = 0; i + k <= reference.length; i++) {
    total++;
    const key = reference.slice(i, i + k).join(",");
    const c = counts.get(key) ?? 0;
    if (c > 0) {
      found++;
      counts.set(key, c - 1);
    }
  }
  return total === 0 ? 0 : found / total;
}

export interface Reproduction {
  /** Tokens of the rest (what follows the prefix). */
  restTokens: number;
  /** Tokens the greedy continuation produced (stops at end-of-sequence or at restTokens). */
  continuationTokens: number;
  lcpTokens: number;
  lcpChars: number;
  /** lcpTokens ÷ restTokens. */
  lcpShare: number;
  /** Share of the rest's token n-grams found in the continuation. */
  ngramShare: number;
}

export function reproduction(rest: readonly number[], continuation: readonly number[], restText: string, continuationText: string): Reproduction {
  const lcpTokens = commonPrefixLength(rest, continuation);
  return {
    restTokens: rest.length,
    continuationTokens: continuation.length,
    lcpTokens,
    lcpChars: commonPrefixLength(restText, continuationText),
    lcpShare: rest.length === 0 ? 0 : lcpTokens / rest.length,
    ngramShare: ngramOverlap(rest, continuation),
  };
}

// ---------------------------------------------------------------------------------------------
// Perturbations

export type PerturbationKind = "numbers" | "clauses" | "synonyms";

export interface Perturbation {
  kind: PerturbationKind;
  text: string;
}

/** Every digit d → (d + DIGIT_SHIFT) mod 10. */
export function shiftDigits(text: string): string {
  return text.replace(/[0-9]/g, (d) => String((Number(d) + DIGIT_SHIFT) % 10));
}

/**
 * The first two clauses swapped: the text is split at the first two separators (a comma, or the
 * word "and"); the first two pieces trade places, separators stay where they were. Unchanged when
 * there are fewer than two clauses.
 */
export function swapClauses(text: string): string {
  const separator = /,\s*|\s+and\s+/g;
  const first = separator.exec(text);
  if (!first) return text;
  const a = text.slice(0, first.index);
  const afterFirst = first.index + first[0].length;
  const second = separator.exec(text);
  const bEnd = second ? second.index : text.length;
  const b = text.slice(afterFirst, bEnd);
  if (a.trim() === "" || b.trim() === "") return text;
  // Keep the leading and trailing whitespace of the pieces in place.
  const lead = /^\s*/.exec(a)?.[0] ?? "";
  const trail = /\s*$/.exec(b)?.[0] ?? "";
  const aCore = a.slice(lead.length);
  const bCore = b.slice(0, b.length - trail.length);
  return `${lead}${bCore}${first[0]}${aCore}${trail}${text.slice(bEnd)}`;
}

const synonymOf = new Map<string, string>();
for (const [a, b] of SYNONYMS) {
  synonymOf.set(a, b);
  if (!synonymOf.has(b)) synonymOf.set(b, a);
}

/** Every whole word of the built-in list replaced by its pair (lower case, or with a leading capital). */
export function swapSynonyms(text: string): string {
  return text.replace(/[A-Za-z]+/g, (word) => {
    const lower = word.toLowerCase();
    const other = synonymOf.get(lower);
    if (other === undefined) return word;
    if (word === lower) return other;
    if (word === lower[0]?.toUpperCase() + lower.slice(1)) return other.charAt(0).toUpperCase() + other.slice(1);
    return word;
  });
}

/** The perturbations that change the text, in a fixed order. */
export function perturbations(text: string): Perturbation[] {
  const out: Perturbation[] = [];
  const candidates: [PerturbationKind, string][] = [
    ["numbers", shiftDigits(text)],
    ["clauses", swapClauses(text)],
    ["synonyms", swapSynonyms(text)],
  ];
  for (const [kind, changed] of candidates) if (changed !== text) out.push({ kind, text: changed });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Verdict

/** Mean of the per-token log-probabilities (natural log); -Infinity for none. */
export function meanLogLikelihood(logProbs: readonly number[]): number {
  if (logProbs.length === 0) return Number.NEGATIVE_INFINITY;
  return logProbs.reduce((s, x) => s + x, 0) / logProbs.length;
}

export interface PerturbationScore {
  kind: PerturbationKind;
  text: string;
  tokens: number;
  meanLogLikelihood: number;
}

export interface TaskProbe {
  taskId: string;
  area: string;
  text: string;
  /** Tokens of the text, BOS not counted. */
  tokens: number;
  /** Tokens in the prefix fed before the greedy continuation (BOS not counted); null when the text was too short to split. */
  prefixTokens: number | null;
  continuation: string;
  reproduction: Reproduction | null;
  exactMeanLogLikelihood: number;
  perturbations: PerturbationScore[];
  /** The exact text's mean log-likelihood minus the best perturbation's; null without a perturbation. */
  likelihoodGap: number | null;
  reproduced: boolean;
  likelihoodFlag: boolean;
  flagged: boolean;
  /** Why it was flagged (or not), in words. */
  evidence: string;
  /** Tokens dropped to fit the context (0 normally). */
  truncatedTokens: number;
}

export interface Verdict {
  reproduced: boolean;
  likelihoodFlag: boolean;
  likelihoodGap: number | null;
  flagged: boolean;
}

/**
 * Flagged when either: the greedy continuation of the prefix reproduces the rest (its LCP covers
 * ≥ REPRODUCED_LCP_SHARE of the rest's tokens, or ≥ REPRODUCED_NGRAM_SHARE of the rest's n-grams
 * appear in it); or the exact text is more likely, per token, than every perturbation of it by
 * more than LIKELIHOOD_MARGIN nats (needs at least one perturbation).
 */
export function verdict(repro: Reproduction | null, exactMean: number, perturbed: readonly PerturbationScore[]): Verdict {
  const reproduced = repro !== null && (repro.lcpShare >= REPRODUCED_LCP_SHARE || repro.ngramShare >= REPRODUCED_NGRAM_SHARE);
  const best = perturbed.length === 0 ? null : Math.max(...perturbed.map((p) => p.meanLogLikelihood));
  const likelihoodGap = best === null ? null : exactMean - best;
  const likelihoodFlag = likelihoodGap !== null && likelihoodGap > LIKELIHOOD_MARGIN;
  return { reproduced, likelihoodFlag, likelihoodGap, flagged: reproduced || likelihoodFlag };
}

export function evidenceText(p: Pick<TaskProbe, "reproduction" | "exactMeanLogLikelihood" | "perturbations" | "likelihoodGap">): string {
  const parts: string[] = [];
  if (p.reproduction) {
    const r = p.reproduction;
    parts.push(`reproduced ${r.lcpTokens}/${r.restTokens} tokens as a common prefix (${r.lcpChars} chars), ${NGRAM}-gram overlap ${pct(r.ngramShare)}`);
  } else parts.push("too short to split");
  if (p.perturbations.length === 0) parts.push(`log-likelihood ${p.exactMeanLogLikelihood.toFixed(2)}/token, no perturbation applies`);
  else {
    const best = p.perturbations.reduce((a, b) => (b.meanLogLikelihood > a.meanLogLikelihood ? b : a));
    parts.push(`log-likelihood ${p.exactMeanLogLikelihood.toFixed(2)}/token exact vs ${best.meanLogLikelihood.toFixed(2)} best perturbation (${best.kind}), gap ${(p.likelihoodGap ?? 0).toFixed(2)}`);
  }
  return parts.join("; ");
}

function pct(x: number): string {
  return `${(100 * x).toFixed(0)}%`;
}

export interface AreaShare {
  area: string;
  tasks: number;
  flagged: number;
  reproduced: number;
  likelihood: number;
  share: number;
}

export interface ContaminationReport {
  model: { id: string; path: string };
  suite: { name: string; dir: string };
  thresholds: {
    minPrefixTokens: number;
    ngram: number;
    reproducedLcpShare: number;
    reproducedNgramShare: number;
    likelihoodMargin: number;
    digitShift: number;
  };
  tasks: TaskProbe[];
  areas: AreaShare[];
  overall: AreaShare;
}

export const THRESHOLDS: ContaminationReport["thresholds"] = {
  minPrefixTokens: MIN_PREFIX_TOKENS,
  ngram: NGRAM,
  reproducedLcpShare: REPRODUCED_LCP_SHARE,
  reproducedNgramShare: REPRODUCED_NGRAM_SHARE,
  likelihoodMargin: LIKELIHOOD_MARGIN,
  digitShift: DIGIT_SHIFT,
};

/** The share flagged per area (sorted by name; tasks without an area under "(none)"), and overall. */
export function areaShares(probes: readonly TaskProbe[]): { areas: AreaShare[]; overall: AreaShare } {
  const by = new Map<string, TaskProbe[]>();
  for (const p of probes) by.set(p.area, [...(by.get(p.area) ?? []), p]);
  const share = (area: string, list: readonly TaskProbe[]): AreaShare => {
    const flagged = list.filter((p) => p.flagged).length;
    return {
      area,
      tasks: list.length,
      flagged,
      reproduced: list.filter((p) => p.reproduced).length,
      likelihood: list.filter((p) => p.likelihoodFlag).length,
      share: list.length === 0 ? 0 : flagged / list.length,
    };
  };
  const areas = [...by.keys()].sort().map((a) => share(a, by.get(a) as TaskProbe[]));
  return { areas, overall: share("all", probes) };
}

export function formatContamination(report: ContaminationReport, showFlagged = 20): string {
  const lines: string[] = [];
  lines.push(`contamination probe: ${report.model.id} on ${report.suite.name} (${report.overall.tasks} tasks)`);
  lines.push("");
  const header = ["area", "tasks", "flagged", "share", "reproduced", "likelihood"];
  const rows = [...report.areas, report.overall].map((a) => [a.area, String(a.tasks), String(a.flagged), pct(a.share), String(a.reproduced), String(a.likelihood)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  lines.push(fmt(header));
  lines.push(widths.map((w) => "─".repeat(w)).join("  "));
  for (const r of rows) lines.push(fmt(r));
  const flagged = report.tasks.filter((t) => t.flagged);
  if (flagged.length > 0) {
    lines.push("");
    lines.push(`flagged (${flagged.length}${flagged.length > showFlagged ? `, first ${showFlagged} shown` : ""}):`);
    for (const t of flagged.slice(0, showFlagged)) lines.push(`  ${t.taskId} [${t.area}] ${JSON.stringify(t.text)}: ${t.evidence}`);
  }
  lines.push("");
  lines.push(
    `flagged: the greedy continuation of the first half reproduces ≥ ${pct(REPRODUCED_LCP_SHARE)} of the rest (common prefix) or ≥ ${pct(REPRODUCED_NGRAM_SHARE)} of its ${NGRAM}-grams, ` +
      `or the exact text beats every perturbation by > ${LIKELIHOOD_MARGIN} nats/token. A model that can derive the text (arithmetic, formulaic or very common phrases) is flagged too: evidence, not proof.`,
  );
  return lines.join("\n");
}
