import type { CrossCheck, QuantizationFile } from "../weights/quantize-sweep.js";
import { formatKld } from "../core/quant-sweep.js";
import { formatBytes, formatNumber, formatRate, textTable } from "./table.js";

/** The quantization sweep's terminal table: one row per variant, the source first. */
export function quantizationTable(q: QuantizationFile): string {
  const head = ["variant", "size", "mean KLD ± se", "p99 KLD", "top-1", "answer ppl", "pass", "Δ pass (95% CI)", "p (Holm)", "gen tok/s", "peak RSS", "frontier"];
  const frontier = new Set(q.frontier);
  const f = (x: number | null | undefined, d: number) => (x === null || x === undefined ? "–" : x.toFixed(d));
  const rows = q.rows.map((r) => {
    const d = r.divergence;
    const v = r.verdict;
    const delta = v && v.difference !== null ? `${(v.difference * 100).toFixed(1)} (${f((v.low ?? 0) * 100, 1)}…${f((v.high ?? 0) * 100, 1)})${v.significant ? " *" : ""}` : "–";
    return [
      r.name,
      formatBytes(r.sizeBytes),
      d ? `${formatKld(d.meanKld)} ± ${formatKld(d.meanKldStdErr)}` : r.name === "source" ? "0 (reference)" : "failed",
      d ? formatKld(d.p99Kld) : "–",
      d ? f(d.top1Agreement, 4) : "–",
      f(r.answerPerplexity, 4),
      formatRate(r.passRate),
      delta,
      v ? (v.pAdjusted ?? v.pValue).toPrecision(2) : "–",
      formatNumber(r.generationTokensPerSecond),
      formatBytes(r.peakRssBytes),
      frontier.has(r.name) ? "yes" : "",
    ];
  });
  const out = textTable(head, rows);
  out.push("", `KLD: nats, KL(source ‖ variant) over ${q.suite.positions} positions of ${q.suite.scoredTasks} tasks (${q.positions}). Δ pass: points against the source, paired; * significant after Holm.`);
  for (const v of q.variants) if (v.divergenceError) out.push(`${v.type}: no divergence figures: ${v.divergenceError}`);
  if (q.suite.skippedTasks) out.push(`${q.suite.skippedTasks} task(s) were left out of the divergence figures: prompt + answer do not fit the context.`);
  const fell = q.variants.filter((v) => v.shapeFallbacks.length > 0);
  for (const v of fell) out.push(`${v.type}: ${v.shapeFallbacks.length} tensor(s) have rows the type cannot split and got another type (${[...new Set(v.shapeFallbacks.map((s) => s.got))].join(", ")}), e.g. ${v.shapeFallbacks[0]?.tensor} (rows of ${v.shapeFallbacks[0]?.rowLength}); llama-quantize counted ${v.fallbackCount} fallback(s).`);
  if (q.crossCheck) out.push(crossCheckText(q.crossCheck));
  out.push("", q.recommendation);
  return out.join("\n");
}

/** The llama-perplexity cross-check in words, for the table and the report. */
export function crossCheckText(c: CrossCheck): string {
  const f = (x: number | null | undefined, d: number) => (x === null || x === undefined ? "–" : x.toFixed(d));
  const e = (x: number | null | undefined) => (x === null || x === undefined ? "–" : x.toExponential(1));
  const lp = c.llamaPerplexity;
  return [
    `Cross-check against llama-perplexity --kl-divergence (${c.type}, its ${c.windows} windows of ${c.contextSize} tokens, ${c.positions} positions):`,
    `llama-perplexity ${f(lp.meanKld, 6)} ± ${f(lp.meanKldError, 6)};`,
    `heldout against the same stored reference ${f(c.sameReference.meanKld, 6)}, against its own reference ${f(c.heldout.meanKld, 6)};`,
    lp.sameTop === null ? "" : `top-1 agreement ${f(c.sameReference.top1Agreement, 4)} and llama-perplexity's ${f(lp.sameTop, 4)} ± ${f(lp.sameTopError, 4)};`,
    `heldout's source against llama-perplexity's stored reference: KLD ${e(c.referenceAgreement)} (same positions read alike).`,
    c.agrees ? "They agree within its stated error." : "They DISAGREE: beyond its stated error, or the positions do not line up.",
  ]
    .filter(Boolean)
    .join(" ");
}
