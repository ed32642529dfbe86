import { meanInterval } from "../stats/repetitions.js";
import type { ProfileResult } from "../profile/grid.js";

/** Profile results as llama-bench prints them: one row per setting and test, mean ± sd. */
export function profileRows(results: readonly ProfileResult[]): string[][] {
  const header = ["model", "binary", "threads", "P", "depth", "batch", "FA", "test", "t/s (mean ± sd)", "median", "per seq", "roofline"];
  const f = (v: number | null) => (v === null ? "–" : v.toFixed(v < 100 ? 2 : 0));
  const rows = results.map((r) => [
    r.model + (r.synthetic ? " (synthetic)" : ""),
    r.point.engine === "llama-server" ? "llama-server" : `${String(r.engine.binary ?? r.point.binary)}${r.engine.cpuVariant ? `/${String(r.engine.cpuVariant)}` : ""}`,
    String(r.engine.threads ?? r.point.threads),
    String(r.point.parallel),
    String(r.point.depth),
    r.point.batchSize === null ? "auto" : String(r.point.batchSize),
    r.point.flashAttention ? "on" : "off",
    `${r.test.kind}${r.test.tokens}`,
    r.error ? `failed: ${r.error.slice(0, 60)}` : `${f(r.stats.mean)} ± ${f(r.stats.sd)}${repetitionNote(r)}`,
    f(r.stats.median),
    f(r.perSequence.median),
    r.roofline === null ? "–" : r.roofline.share !== null ? `${(r.roofline.share * 100).toFixed(1)}% of bandwidth` : `${((r.roofline.flopsPerSecond ?? 0) / 1e9).toFixed(1)} GFLOP/s`,
  ]);
  return [header, ...rows];
}

export function formatProfile(results: readonly ProfileResult[], format: "table" | "json" | "csv" | "markdown"): string {
  if (format === "json") return JSON.stringify(results, null, 2);
  const rows = profileRows(results);
  if (format === "csv") return rows.map((r) => r.map((x) => (/[",]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x)).join(",")).join("\n");
  if (format === "markdown") {
    const [head, ...body] = rows;
    const line = (r: string[]) => `| ${r.join(" | ")} |`;
    return [line(head as string[]), `| ${(head as string[]).map((_, i) => (i < 2 || i === 7 ? "---" : "---:")).join(" | ")} |`, ...body.map(line)].join("\n");
  }
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) => r.map((x, i) => (i < 2 || i === 7 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join("  ");
  return [fmt(rows[0] as string[]), widths.map((w) => "─".repeat(w)).join("  "), ...rows.slice(1).map(fmt)].join("\n");
}

/**
 * Per model and test, the fastest point of the grid by median: the settings to use on this
 * machine (binary, threads, batch size...). Only as good as the grid that was measured.
 */
export function recommendations(results: readonly ProfileResult[]): string[] {
  const lines: string[] = [];
  const groups = new Map<string, ProfileResult[]>();
  for (const r of results) {
    if (r.error || r.stats.median === null || r.point.parallel !== 1 || r.point.depth !== 0) continue;
    const key = `${r.model}\u0000${r.test.kind}${r.test.tokens}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const [key, rs] of groups) {
    if (rs.length < 2) continue;
    const best = rs.reduce((a, b) => ((b.stats.median as number) > (a.stats.median as number) ? b : a));
    const worst = rs.reduce((a, b) => ((b.stats.median as number) < (a.stats.median as number) ? b : a));
    const [model, test] = key.split("\u0000");
    lines.push(
      `${model} ${test}: fastest with ${best.point.engine === "llama-server" ? "engine llama-server" : `the embedded engine, binary ${String(best.engine.binary ?? best.point.binary)}`}, threads ${String(best.engine.threads ?? best.point.threads)}, batch ${best.point.batchSize ?? "auto"}, flash attention ${best.point.flashAttention ? "on" : "off"} (${(best.stats.median as number).toFixed(0)} t/s; slowest point ${(worst.stats.median as number).toFixed(0)} t/s)`,
    );
  }
  return lines;
}

/** With --reps auto: how many repetitions it took and the 95% interval of the mean they reached. */
function repetitionNote(r: ProfileResult): string {
  if (!r.stopped || r.stopped === "fixed") return "";
  const ci = meanInterval(r.samples);
  const width = ci?.halfWidthPercent;
  return ` (n ${r.samples.length}, 95% CI ±${width === null || width === undefined ? "–" : width.toFixed(1)}%${r.stopped === "max-reps" ? ", max reached" : ""})`;
}
