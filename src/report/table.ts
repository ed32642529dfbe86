import type { CellSummary, Summary } from "../core/summary.js";

/** The terminal comparison table: one row per cell, areas as columns, speed and memory after. */

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

export function summaryTable(summary: Summary, color: boolean): string {
  const areas = [...new Set(summary.cells.flatMap((c) => c.areas.map((a) => a.area)))].sort();
  const header = ["model", "pass", "n", ...areas, "gen tok/s", "prompt tok/s", "TTFT p50", "lat p50", "p95", "p99 ms", "load ms", "peak RSS", "fail"];
  const rows = summary.cells.map((c) => row(c, areas));
  const align = header.map((_, i) => (i === 0 ? "left" : "right"));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const pad = (cells: string[]) => cells.map((s, i) => (align[i] === "left" ? s.padEnd(widths[i] as number) : s.padStart(widths[i] as number))).join("  ");
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const lines = [bold(pad(header)), pad(widths.map((w) => "─".repeat(w))), ...rows.map(pad)];
  const notes = [
    `suite ${summary.suite.name} (${summary.suite.tasks} tasks${summary.samples > 1 ? ` × ${summary.samples} samples` : ""}, sha256 ${summary.suite.hash.slice(0, 12)}…); run ${summary.runId}`,
    "pass: share of generations scored as passing; area columns: pass rate per area; tok/s: median per generation; latency: end-to-end, ms",
  ];
  for (const c of summary.cells) if (c.status !== "completed") notes.push(`${c.modelId}: ${c.status}${c.error ? `: ${c.error}` : ""}`);
  return [...lines, "", ...notes].join("\n");
}

function row(c: CellSummary, areas: string[]): string[] {
  return [
    c.modelId,
    formatRate(c.passRate),
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
