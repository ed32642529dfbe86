import type { Comparison } from "../core/compare.js";
import type { PairedComparison } from "../stats/paired.js";

/** `heldout compare` output: a side-by-side table with the verdicts, as text, markdown, CSV or JSON. */

export type CompareFormat = "table" | "markdown" | "json" | "csv";

const pct = (v: number | null) => (v === null ? "–" : `${(v * 100).toFixed(1)}%`);
const points = (v: number | null) => (v === null ? "–" : `${v >= 0 ? "+" : "−"}${Math.abs(v * 100).toFixed(1)}`);
const num = (v: number | null, unit: string) => (v === null ? "–" : unit === "" ? v.toFixed(3) : v < 100 ? v.toFixed(2) : Math.round(v).toLocaleString("en-US"));
const ci = (c: PairedComparison) => (c.low === null || c.high === null ? "–" : `[${points(c.low)}, ${points(c.high)}]`);
const p = (c: PairedComparison) => (c.pAdjusted ?? c.pValue).toPrecision(2);

function rows(c: Comparison): string[][] {
  const head = ["figure", c.a, c.b, "B − A", "95% CI (points)", "p", "won/lost/tied"];
  const overall = c.overall;
  const out: string[][] = [head];
  out.push(["pass rate", pct(overall.passA), pct(overall.passB), points(overall.difference), ci(overall), p(overall), `${overall.bWins}/${overall.aWins}/${overall.ties}`]);
  for (const a of c.areas) {
    const x = a.comparison;
    out.push([`  ${a.area}${a.flips ? " (flips)" : ""}`, pct(x.passA), pct(x.passB), points(x.difference), ci(x), p(x), `${x.bWins}/${x.aWins}/${x.ties}`]);
  }
  for (const f of c.figures.slice(1)) {
    const diff = f.a !== null && f.b !== null ? f.b - f.a : null;
    const fmt = (v: number | null) => (f.figure === "failure rate" ? pct(v) : num(v, f.unit));
    out.push([`${f.figure}${f.unit && !f.figure.includes(f.unit) ? ` (${f.unit})` : ""}`, fmt(f.a), fmt(f.b), diff === null ? "–" : f.figure === "failure rate" ? points(diff) : `${diff >= 0 ? "+" : "−"}${fmt(Math.abs(diff))}`, "", "", ""]);
  }
  return out;
}

function verdicts(c: Comparison): string[] {
  const lines = [`overall: ${c.overall.verdict}`];
  if (c.areas.length > 0) {
    lines.push(`per area (p Holm-adjusted over ${c.areas.length} areas):`);
    for (const a of c.areas) lines.push(`  ${a.area}: ${a.comparison.verdict}`);
    const flips = c.areas.filter((a) => a.flips).map((a) => a.area);
    if (flips.length) lines.push(`the ranking flips in: ${flips.join(", ")}`);
  }
  if (c.overall.onlyInA.length || c.overall.onlyInB.length) {
    lines.push(`compared on ${c.overall.tasks} common tasks; only in ${c.a}: ${c.overall.onlyInA.length}, only in ${c.b}: ${c.overall.onlyInB.length}`);
  }
  return lines;
}

export function formatComparison(c: Comparison, format: CompareFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify(c, null, 2);
    case "csv":
      return rows(c)
        .map((r) => r.map((x) => (/[",\n]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x)).join(","))
        .join("\n");
    case "markdown": {
      const [head, ...body] = rows(c);
      const line = (r: string[]) => `| ${r.map((x) => x.replace(/\|/g, "\\|")).join(" | ")} |`;
      return [line(head as string[]), `| ${(head as string[]).map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`, ...body.map(line), "", ...verdicts(c).map((v) => (v.startsWith("  ") ? `- ${v.trim()}` : `**${v}**`))].join("\n");
    }
    case "table": {
      const all = rows(c);
      const widths = (all[0] as string[]).map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
      const fmt = (r: string[]) => r.map((x, i) => (i === 0 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join("  ").trimEnd();
      return [fmt(all[0] as string[]), widths.map((w) => "─".repeat(w)).join("  "), ...all.slice(1).map(fmt), "", ...verdicts(c)].join("\n");
    }
  }
}
