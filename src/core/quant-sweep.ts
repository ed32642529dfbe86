import type { PairedComparison } from "../stats/paired.js";
import type { DivergenceStats } from "./divergence.js";

/**
 * A quantization sweep's verdicts: which variants sit on the size-vs-quality frontier, and the
 * recommendation in words. Pure: the rows measured elsewhere in, figures and text out.
 */

export interface SweepRow {
  /** "source" or the quantization type (q8_0, q4_k_m...). */
  name: string;
  sizeBytes: number;
  divergence: (DivergenceStats & { areas: Record<string, number> }) | null;
  answerPerplexity: number | null;
  passRate: number | null;
  passRateInterval: { low: number; high: number } | null;
  /** Paired pass-rate comparison with the source (Holm-adjusted across variants); null for the source. */
  verdict: PairedComparison | null;
  generationTokensPerSecond: number | null;
  peakRssBytes: number | null;
}

/** A KL divergence for reading: 3 significant digits (they span 1e-6 to 1 across variants). */
export function formatKld(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  if (x === 0) return "0";
  return x < 0.001 ? x.toExponential(2) : x.toPrecision(3);
}

/** Rows not dominated by a smaller-or-equal row with lower-or-equal mean KLD (one strictly better). */
export function kldFrontier(all: readonly SweepRow[]): string[] {
  // A variant whose scoring failed has no KLD: it is off the frontier, not on it by being small.
  const rows = all.filter((r) => r.name === "source" || (r.divergence?.meanKld ?? null) !== null);
  const kld = (r: SweepRow) => (r.name === "source" ? 0 : (r.divergence?.meanKld as number));
  return rows
    .filter((r) => !rows.some((o) => o !== r && o.sizeBytes <= r.sizeBytes && kld(o) <= kld(r) && (o.sizeBytes < r.sizeBytes || kld(o) < kld(r))))
    .map((r) => r.name);
}

/** A variant shows no detectable loss when its paired pass-rate difference is not significantly below zero. */
export function noDetectableLoss(row: SweepRow): boolean {
  const v = row.verdict;
  return v !== null && v.difference !== null && !(v.significant && v.difference < 0);
}

const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`);
const points = (x: number | null) => (x === null ? "n/a" : `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(1)} points`);
const signed = (x: number | null) => (x === null ? "n/a" : `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(1)}`);
const pOf = (v: PairedComparison) => v.pAdjusted ?? v.pValue;
const pText = (p: number) => (p < 0.001 ? "p < 0.001" : `p = ${p.toFixed(3)}`);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

/** Top-1 agreement from which a variant counts as choosing the source's tokens almost everywhere. */
export const CLOSE_TOP1 = 0.99;

export function recommendation(rows: readonly SweepRow[], suiteName: string): string {
  const source = rows.find((r) => r.name === "source");
  const variants = rows.filter((r) => r.name !== "source").sort((a, b) => a.sizeBytes - b.sizeBytes);
  if (!source || variants.length === 0) return "No variants were measured.";
  const safe = variants.filter(noDetectableLoss);
  const kld = (r: SweepRow) => formatKld(r.divergence?.meanKld ?? null);
  const parts: string[] = [];
  const best = safe[0];
  if (best) {
    const v = best.verdict as PairedComparison;
    parts.push(
      `${best.name} is the smallest variant with no detectable loss on ${suiteName}: ${mib(best.sizeBytes)} (${pct(best.sizeBytes / source.sizeBytes)} of the source), pass rate ${pct(best.passRate)} against ${pct(source.passRate)} (${points(v.difference)}, 95% CI ${signed(v.low)} to ${signed(v.high)}, ${pText(pOf(v))}), mean KLD ${kld(best)} nats.`,
    );
    if (v.mdd !== null) parts.push(`"No detectable loss" means a loss under about ${(v.mdd * 100).toFixed(1)} points would not have been detected with ${v.tasks} tasks${variants.length > 1 ? ` (at α = 0.05 for one comparison; with ${variants.length} variants Holm-adjusted, a somewhat larger loss could go unseen)` : ""}.`);
    // A pass rate that holds is not the whole story when the distributions moved: say so, and name
    // the smallest variant that still picks the source's token almost everywhere.
    const top1 = best.divergence?.top1Agreement ?? null;
    if (top1 !== null && top1 < CLOSE_TOP1) {
      const close = safe.find((r) => (r.divergence?.top1Agreement ?? 0) >= CLOSE_TOP1);
      parts.push(`But its next-token choices moved: it agrees with the source's top token at ${pct(top1)} of positions, so outputs beyond this suite will differ${close ? `; the smallest variant that agrees at ≥ ${pct(CLOSE_TOP1)} is ${close.name} (${mib(close.sizeBytes)}, mean KLD ${kld(close)})` : ""}.`);
    }
  } else {
    parts.push(`Every variant lost pass rate detectably on ${suiteName}; keep the source, or take the loss knowingly.`);
  }
  const smaller = variants.filter((r) => !noDetectableLoss(r) && (!best || r.sizeBytes < best.sizeBytes));
  for (const r of smaller) {
    const v = r.verdict;
    if (v) parts.push(`${r.name} (${mib(r.sizeBytes)}) lost ${points(v.difference).replace(/^−/, "")} (${pText(pOf(v))}); mean KLD ${kld(r)}.`);
  }
  return parts.join(" ");
}
