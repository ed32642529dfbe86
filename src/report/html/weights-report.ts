import { formatKld } from "../../core/quant-sweep.js";
import { formatP } from "../../stats/paired.js";
import type { AblationFile, AblationVariant } from "../../weights/ablate.js";
import type { QuantizationFile } from "../../weights/quantize-sweep.js";
import { ablationAreas, areaChange } from "../ablation.js";
import { crossCheckText } from "../quantization.js";
import { formatBytes, formatNumber, formatRate } from "../table.js";
import { escapeHtml } from "./escape.js";
import { figure, num, sortableTable, text } from "./page.js";
import { changeColor, heatmap, PALETTE, scatterPlot, type ScatterPoint } from "./svg.js";

/** Report sections for runs made by `heldout quantize-sweep` and `heldout ablate`. Pure. */

const MIB = 2 ** 20;
const fixed = (x: number | null | undefined, d: number) => (x === null || x === undefined ? "–" : x.toFixed(d));

export function quantizationSection(q: QuantizationFile): string {
  const frontier = new Set(q.frontier);
  const rows = q.rows.map((r) => {
    const d = r.divergence;
    const v = r.verdict;
    return {
      cls: frontier.has(r.name) ? "best" : "",
      cells: [
        text(r.name),
        num(r.sizeBytes, formatBytes(r.sizeBytes)),
        num(d ? d.meanKld : r.name === "source" ? 0 : null, d ? `${formatKld(d.meanKld)} ± ${formatKld(d.meanKldStdErr)}` : r.name === "source" ? "0 (reference)" : "failed"),
        num(d?.p99Kld ?? null, formatKld(d?.p99Kld)),
        num(d?.top1Agreement ?? null, fixed(d?.top1Agreement, 4)),
        num(r.answerPerplexity, fixed(r.answerPerplexity, 4)),
        num(r.passRate, `${formatRate(r.passRate)}${r.passRateInterval ? ` [${formatRate(r.passRateInterval.low)}, ${formatRate(r.passRateInterval.high)}]` : ""}`),
        num(v?.difference ?? null, v && v.difference !== null ? `${(v.difference * 100).toFixed(1)} [${fixed((v.low ?? 0) * 100, 1)}, ${fixed((v.high ?? 0) * 100, 1)}]` : "–"),
        text(v ? v.verdict : "reference", "text verdict"),
        num(r.generationTokensPerSecond, formatNumber(r.generationTokensPerSecond)),
        num(r.peakRssBytes, formatBytes(r.peakRssBytes)),
        text(frontier.has(r.name) ? "yes" : ""),
      ],
    };
  });
  const table = sortableTable(
    "quantization-table",
    [
      { label: "variant", text: true },
      { label: "size" },
      { label: "mean KLD ± se", title: "KL(source ‖ variant), nats, mean over positions with its standard error" },
      { label: "p99 KLD" },
      { label: "top-1 agreement" },
      { label: "answer perplexity", title: "perplexity of the expected answers' tokens, teacher-forced" },
      { label: "pass rate [95% CI]" },
      { label: "Δ pass, points [95% CI]", title: "variant − source, paired over tasks" },
      { label: "paired verdict (Holm across variants)", text: true },
      { label: "gen tok/s" },
      { label: "peak RSS" },
      { label: "size–KLD frontier", text: true },
    ],
    rows,
  );
  const color = (i: number) => PALETTE[i % PALETTE.length] as string;
  const kldPoints: ScatterPoint[] = q.rows.map((r, i) => {
    const d = r.divergence;
    const se = d?.meanKldStdErr ?? 0;
    // The source is the reference (0); a variant whose scoring failed has no point.
    const y = d ? (d.meanKld ?? Number.NaN) : r.name === "source" ? 0 : Number.NaN;
    return { id: r.name, label: r.name, x: r.sizeBytes / MIB, y, yLow: d ? Math.max(0, y - 1.96 * se) : null, yHigh: d ? y + 1.96 * se : null, color: color(i) };
  });
  const passPoints: ScatterPoint[] = q.rows.map((r, i) => ({ id: r.name, label: r.name, x: r.sizeBytes / MIB, y: r.passRate ?? Number.NaN, yLow: r.passRateInterval?.low ?? null, yHigh: r.passRateInterval?.high ?? null, color: color(i) }));
  const plots = [
    figure(scatterPlot({ kind: "quant-size-kld", points: kldPoints, xLabel: "file size (MiB)", yLabel: "mean KL divergence (nats)", frontier: true, better: { x: "lower", y: "lower" } }), "Size against mean KL divergence from the source (±1.96 se); the dashed line is the Pareto frontier: no variant is both smaller and closer."),
    figure(scatterPlot({ kind: "quant-size-pass", points: passPoints, xLabel: "file size (MiB)", yLabel: "pass rate", frontier: true, better: { x: "lower", y: "higher" } }), "Size against pass rate (95% intervals), with its Pareto frontier."),
  ];
  const notes: string[] = [];
  for (const v of q.variants.filter((x) => x.shapeFallbacks.length > 0)) {
    notes.push(`${v.type}: ${v.shapeFallbacks.length} tensor(s) have rows the type's blocks cannot split and got ${[...new Set(v.shapeFallbacks.map((s) => s.got))].join(" / ")} instead (for example ${v.shapeFallbacks[0]?.tensor}, rows of ${v.shapeFallbacks[0]?.rowLength}); llama-quantize counted ${v.fallbackCount} fallback(s).`);
  }
  for (const v of q.variants) if (v.divergenceError) notes.push(`${v.type}: no divergence figures: ${v.divergenceError}`);
  const c = q.crossCheck;
  if (c) notes.push(crossCheckText(c));
  const timing = q.variants.map((v) => `${v.type}: quantize ${v.timings.quantizeMs === null ? "cached" : `${Math.round(v.timings.quantizeMs)} ms`}, suite ${v.timings.runMs === null ? "–" : `${(v.timings.runMs / 1000).toFixed(1)} s`}, distributions ${v.timings.divergenceMs === null ? `failed (${v.divergenceError ?? "?"})` : `${(v.timings.divergenceMs / 1000).toFixed(1)} s`}`);
  return `<section id="quantization"><h2>Quantization sweep</h2>
<p class="recommendation"><strong>${escapeHtml(q.recommendation)}</strong></p>
<p>Source: ${escapeHtml(q.source.file)} (${escapeHtml(formatBytes(q.source.sizeBytes))}, sha256 ${escapeHtml(q.source.sha256)}). Divergence is measured ${escapeHtml(q.positions)}: ${q.suite.positions} positions over ${q.suite.scoredTasks} tasks.</p>
${table}
<div class="plots">${plots.join("")}</div>
${notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join("")}
<p class="note">Time per variant: ${escapeHtml(timing.join("; "))}.</p>
</section>`;
}

export function ablationSection(a: AblationFile): string {
  const areas = ablationAreas(a);
  const cols = [...areas, "overall"];
  const pts = (d: number | null) => (d === null ? "–" : `${d >= 0 ? "+" : ""}${(d * 100).toFixed(1)}`);
  const cellOf = (v: AblationVariant, col: string) => (col === "overall" ? { difference: v.overall.difference, significant: v.overall.significant, p: v.overall.pAdjusted ?? v.overall.pValue } : areaChange(v, col));
  const values = a.variants.map((v) => cols.map((col) => cellOf(v, col).difference));
  const tips = a.variants.map((v) =>
    cols.map((col) => {
      const c = cellOf(v, col);
      return `${v.name} · ${col}: ${pts(c.difference)} points${c.p === null ? "" : `, p ${formatP(c.p)}`}${c.significant ? " (significant)" : " (not significant)"}`;
    }),
  );
  const map = heatmap({ kind: "ablation-heatmap", rows: a.variants.map((v) => v.name), cols, values, rowTitle: "ablated block · part", colTitle: "area", tips, color: changeColor, format: (v) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(0)}` });
  const rows = a.variants.map((v) => ({
    cells: [
      text(v.name),
      text(v.zeroed.map((z) => `${z.tensor} (${z.type})`).join(", ")),
      num(v.passRate, formatRate(v.passRate)),
      ...cols.map((col) => {
        const c = cellOf(v, col);
        return num(c.difference, `${pts(c.difference)}${c.significant ? " *" : ""}`);
      }),
    ],
  }));
  const table = sortableTable(
    "ablation-table",
    [{ label: "variant", text: true }, { label: "zeroed tensors", text: true }, { label: "pass rate" }, ...cols.map((c) => ({ label: `Δ ${c}`, title: "points against the intact model, paired; * significant after Holm" }))],
    rows,
  );
  const control = a.control
    ? a.control.identical
      ? `Control: a copy written the same way with nothing zeroed reproduced all ${a.control.tasks} of the intact model's outputs exactly.`
      : `Control: ${a.control.differingOutputs} of ${a.control.tasks} outputs of the nothing-zeroed copy DIFFER from the intact model's; read the changes below with that noise in mind.`
    : "No control was run (--no-control).";
  const intact = `Intact ${a.source.modelId}: pass rate ${formatRate(a.intact.passRate)} (${a.intact.areas.map((x) => `${x.area} ${formatRate(x.passRate)}`).join(", ")}); ${a.source.blocks} blocks; ${a.source.file}, sha256 ${a.source.sha256}.`;
  return `<section id="ablation"><h2>Layer ablation</h2>
<p>${escapeHtml(intact)}</p>
<p class="note">${escapeHtml(control)}${a.variantsDeleted ? " The variant files were deleted after the run (--delete-variants)." : ""}</p>
<div class="plots">${figure(map, "Pass-rate change (points) against the intact model when a block's attention or feed-forward output projection is zeroed; red: lost, yellow: unchanged. Hover for p-values.")}</div>
${table}
</section>`;
}
