import { compareQuality, type CellSummary, type Summary } from "../core/summary.js";

/**
 * The terminal comparison table: one row per cell (model and swept settings), areas as columns,
 * speed and memory after; then the best cell per model when a sweep ran several per model.
 */

export const SORT_KEYS = ["plan", "pass", "gen", "latency", "ttft", "model"] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export function formatRate(rate: number | null): string {
  return rate === null ? "–" : rate.toFixed(3);
}

export function formatNumber(v: number | null, digits = 0): string {
  if (v === null || !Number.isFinite(v)) return "–";
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatMs(v: number | null): string {
  if (v === null) return "–";
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

export function formatBytes(v: number | null): string {
  if (v === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(x < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

function formatPct(v: number | null): string {
  return v === null ? "–" : `${(v * 100).toFixed(1)}%`;
}

export function sortCells(cells: readonly CellSummary[], by: SortKey): CellSummary[] {
  const list = [...cells];
  const asc = (f: (c: CellSummary) => number | null) => (a: CellSummary, b: CellSummary) => (f(a) ?? Infinity) - (f(b) ?? Infinity);
  switch (by) {
    case "plan":
      return list;
    case "pass":
      return list.sort(compareQuality);
    case "gen":
      return list.sort((a, b) => (b.generationTokensPerSecond.median ?? -1) - (a.generationTokensPerSecond.median ?? -1));
    case "latency":
      return list.sort(asc((c) => c.latencyMs.p50));
    case "ttft":
      return list.sort(asc((c) => c.ttftMs.p50));
    case "model":
      return list.sort((a, b) => a.modelId.localeCompare(b.modelId));
  }
}

/** A short column name for a swept setting path: "sampling.temperature" → "temperature". */
export function shortName(path: string): string {
  return path.replace(/^(sampling|runtime)\./, "").replace(/^prompt\.name$/, "prompt");
}

/**
 * A plain text table: header, a rule, rows; the first `left` columns aligned left, the rest right
 * (numbers), columns two spaces apart.
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[], left = 1): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => widths.map((w, i) => (i < left ? (cells[i] ?? "").padEnd(w) : (cells[i] ?? "").padStart(w))).join("  ");
  return [line(header), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)];
}

export function summaryTable(summary: Summary, color: boolean, sortBy: SortKey = "plan"): string {
  const cells = sortCells(summary.cells, sortBy);
  const swept = [...new Set(cells.flatMap((c) => Object.keys(c.label)))];
  const areas = [...new Set(cells.flatMap((c) => c.areas.map((a) => a.area)))].sort();
  const header = ["model", ...swept.map(shortName), "pass", "95% CI", "n", ...areas, "gen tok/s", "prompt tok/s", "TTFT p50", "lat p50", "p95", "p99 ms", "load ms", "peak RSS", "fail"];
  const rows = cells.map((c) => row(c, swept, areas));
  const left = 1 + swept.length;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const pad = (cols: string[]) => cols.map((s, i) => (i < left ? s.padEnd(widths[i] as number) : s.padStart(widths[i] as number))).join("  ");
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const lines = [bold(pad(header)), pad(widths.map((w) => "─".repeat(w))), ...rows.map(pad)];
  const samples = [...new Set(cells.map((c) => c.samples))];
  const notes = [
    `suite ${summary.suite.name} (${summary.suite.tasks} tasks${samples.some((s) => s > 1) ? ` × ${samples.join("/")} samples` : ""}, sha256 ${summary.suite.hash.slice(0, 12)}…); run ${summary.runId}`,
    "pass: share of generations scored as passing (95% CI: Wilson, or a bootstrap over tasks with several samples); area columns: pass rate per area; tok/s: median per generation; latency: end-to-end, ms",
  ];
  if (summary.comparisons.length > 0) {
    const base = summary.comparisons[0]?.baseline;
    notes.push(`against the first cell (${base})${summary.comparisons.length > 1 ? ", p Holm-adjusted over these comparisons" : ""}:`);
    for (const c of summary.comparisons) notes.push(`  ${c.verdict}`);
  }
  for (const c of cells) {
    if (c.endpoints.length > 1 || c.retried > 0) {
      notes.push(`${c.cellId}: ${c.retried} generation(s) retried; per endpoint:`);
      for (const e of c.endpoints) {
        notes.push(`  ${e.endpoint}: ${e.generations} generations, ${e.failures} failed, ${formatNumber(e.generationTokensPerSecond)} tok/s median, latency p50 ${formatMs(e.latencyP50Ms)} ms`);
      }
    }
  }
  for (const c of cells) {
    const k = c.consistency;
    if (k) notes.push(`${c.cellId}: ${k.k} samples: pass@1 ${formatRate(k.pass1)}, pass@${k.k} ${formatRate(k.passAtK)}, pass^${k.k} ${formatRate(k.passHatK)}; ${formatPct(k.allFail)} of tasks fail in every sample, ${formatPct(k.unstable)} are unstable`);
  }
  const perModel = new Map<string, number>();
  for (const c of cells) perModel.set(c.modelId, (perModel.get(c.modelId) ?? 0) + 1);
  if ([...perModel.values()].some((n) => n > 1)) {
    notes.push("best cell per model (pass rate, then generation speed):");
    for (const b of summary.best) {
      const settings = Object.entries(b.label)
        .map(([k, v]) => `${shortName(k)}=${v}`)
        .join(", ");
      notes.push(`  ${b.modelId}: ${formatRate(b.passRate)}${settings ? ` with ${settings}` : ""} (${b.cellId})`);
    }
  }
  for (const c of cells) if (c.status !== "completed") notes.push(`${c.cellId}: ${c.status}${c.error ? `: ${c.error.split("\n")[0]}` : ""}`);
  for (const c of cells) if (c.timed === false) notes.push(`${c.cellId}: outputs read from a file (backend: outputs): no timings, speed and latency are absent`);
  notes.push(...calibrationNotes(summary));
  notes.push(...rubricNotes(summary));
  notes.push(...costNotes(summary));
  notes.push(...subjectiveNotes(summary));
  for (const w of summary.warnings ?? []) notes.push(`warning: ${w}`);
  return [...lines, "", ...notes].join("\n");
}

function row(c: CellSummary, swept: string[], areas: string[]): string[] {
  return [
    c.modelId,
    ...swept.map((k) => c.label[k] ?? ""),
    formatRate(c.passRate),
    c.passRateInterval ? `${c.passRateInterval.low.toFixed(3)}–${c.passRateInterval.high.toFixed(3)}` : "–",
    String(c.n),
    ...areas.map((a) => formatRate(c.areas.find((x) => x.area === a)?.passRate ?? null)),
    formatNumber(c.generationTokensPerSecond.median),
    formatNumber(c.promptTokensPerSecond.median),
    formatMs(c.ttftMs.p50),
    formatMs(c.latencyMs.p50),
    formatMs(c.latencyMs.p95),
    formatMs(c.latencyMs.p99),
    formatMs(c.loadMs),
    formatBytes(c.peakRssBytes),
    c.failures.rate === null ? "–" : `${(c.failures.rate * 100).toFixed(1)}%`,
  ];
}

/** People's ratings, one line per rated cell: mean 1–5 score or Bradley–Terry strength, with n and interval. */
export function subjectiveNotes(summary: Pick<Summary, "subjective">, cellIds?: readonly string[]): string[] {
  const q = summary.subjective;
  if (!q) return [];
  const wanted = (id: string) => !cellIds || cellIds.includes(id);
  const ci = (low: number | null, high: number | null, digits: number) => (low === null || high === null ? "" : ` [${low.toFixed(digits)}, ${high.toFixed(digits)}]`);
  const lines = [`people's ratings (${q.ratings} by ${q.raters.join(", ")}; 95% bootstrap intervals):`];
  for (const c of q.score?.cells ?? []) {
    if (c.n === 0 || !wanted(c.cellId)) continue;
    const areas = c.areas.length > 1 ? `; ${c.areas.map((a) => `${a.area} ${a.mean?.toFixed(2) ?? "–"} (n ${a.n})`).join(", ")}` : "";
    lines.push(`  ${c.cellId}: mean score ${c.mean?.toFixed(2) ?? "–"}${ci(c.low, c.high, 2)} of 5, n ${c.n}${areas}`);
  }
  for (const c of q.pairwise?.cells ?? []) {
    if (c.n === 0 || !wanted(c.cellId)) continue;
    lines.push(`  ${c.cellId}: Bradley–Terry strength ${c.strength?.toFixed(2) ?? "–"}${ci(c.low, c.high, 2)} (${c.wins} wins, ${c.ties} ties, ${c.losses} losses of ${c.n})`);
  }
  for (const a of q.agreement) lines.push(`  agreement ${a.raters.join(" & ")} (${a.mode}, ${a.n} common items): Cohen's κ ${a.kappa?.toFixed(2) ?? "–"}${ci(a.low, a.high, 2)}${a.weightedKappa !== null ? `, quadratic-weighted ${a.weightedKappa.toFixed(2)}` : ""}`);
  return lines.length > 1 ? lines : [];
}

/** Money for a figure: 4 significant digits, small amounts included. */
export function formatMoney(v: number | null, currency: string): string {
  return v === null ? "–" : `${Number(v.toPrecision(4))} ${currency}`;
}

/** Each priced cell's cost: per passing task first (what a working output costs), then the rest with its inputs. */
export function costNotes(summary: Pick<Summary, "cells">, cellIds?: readonly string[]): string[] {
  const priced = summary.cells.filter((c) => c.cost && (!cellIds || cellIds.includes(c.cellId)));
  if (priced.length === 0) return [];
  const lines = ["cost (per passing task = the cell's total cost ÷ tasks passed):"];
  for (const c of priced) {
    const k = c.cost as NonNullable<typeof c.cost>;
    const perPass = k.nonePassed ? "∞ (nothing passed)" : formatMoney(k.perPassingTask, k.currency);
    const energy = k.energyWhPer1kTokens === null ? "" : `, ${k.energyWhPer1kTokens.toPrecision(3)} Wh per 1,000 tokens`;
    lines.push(`  ${c.cellId}: ${perPass} per passing task; ${formatMoney(k.perMillionTokens, k.currency)} per 1M tokens, ${formatMoney(k.perRequest, k.currency)} per request, total ${formatMoney(k.total, k.currency)}${energy}`);
    lines.push(`    inputs: ${k.inputs}`);
  }
  return lines;
}

/** Every rubric per cell, then where two rubrics rank cells differently. */
export function rubricNotes(summary: Pick<Summary, "cells" | "rubricDisagreements">, cellIds?: readonly string[]): string[] {
  const cells = summary.cells.filter((c) => c.rubrics?.length && (!cellIds || cellIds.includes(c.cellId)));
  if (cells.length === 0) return [];
  const lines = ["rubrics (mean score 0–1, 95% bootstrap interval; gated: a gate criterion failed):"];
  for (const c of cells) {
    const parts = (c.rubrics ?? []).map((r) => `${r.name} ${formatRate(r.mean)}${r.low !== null && r.high !== null ? ` [${r.low.toFixed(3)}, ${r.high.toFixed(3)}]` : ""}${r.gated ? ` (${r.gated} of ${r.n} gated)` : ""}${r.pending ? ` (${r.pending} with a criterion not yet graded or rated)` : ""}`);
    lines.push(`  ${c.cellId}: ${parts.join("; ")}`);
  }
  for (const d of summary.rubricDisagreements ?? []) {
    const pairs = d.pairs.filter((p) => !cellIds || (cellIds.includes(p.a) && cellIds.includes(p.b)));
    if (pairs.length === 0) {
      lines.push(`  ${d.rubrics[0]} and ${d.rubrics[1]} rank the cells alike${d.tau !== null ? ` (τ ${d.tau.toFixed(2)})` : ""}`);
      continue;
    }
    lines.push(`  ${d.rubrics[0]} and ${d.rubrics[1]} disagree (τ ${d.tau === null ? "–" : d.tau.toFixed(2)}):`);
    for (const p of pairs) {
      const [hi1, lo1] = p.first === "a" ? [p.a, p.b] : [p.b, p.a];
      lines.push(`    ${d.rubrics[0]} ranks ${hi1} above ${lo1}; ${d.rubrics[1]} the other way`);
    }
  }
  return lines;
}

/** Per cell with token probabilities: ECE, confidently wrong, abstention, and accuracy at half coverage. */
export function calibrationNotes(summary: Pick<Summary, "cells">): string[] {
  const cells = summary.cells.filter((c) => c.calibration && (c.calibration.n > 0 || (c.calibration.abstention ?? 0) > 0));
  if (cells.length === 0) return [];
  const pct = (v: number | null) => (v === null ? "–" : `${(v * 100).toFixed(1)}%`);
  const lines = ["calibration (confidence = geometric-mean token probability of the output):"];
  for (const c of cells) {
    const k = c.calibration as NonNullable<typeof c.calibration>;
    const half = k.riskCoverage.find((x) => x.coverage === 0.5);
    lines.push(`  ${c.cellId}: mean confidence ${k.meanConfidence?.toFixed(3) ?? "–"}, ECE ${k.ece?.toFixed(3) ?? "–"}, confidently wrong (≥ ${Number(k.threshold.toPrecision(3))}${k.thresholdSource?.startsWith("chosen on dev") ? ", chosen on dev" : ""}) ${pct(k.confidentlyWrong)}, abstained ${pct(k.abstention)}; the most confident half is ${pct(half?.accuracy ?? null)} right (all: ${pct(c.passRate)})`);
  }
  return lines;
}
