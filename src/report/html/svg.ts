import { escapeHtml } from "./escape.js";

/**
 * Plots as inline SVG strings, drawn here rather than in the browser so a report needs no chart
 * library and shows its figures even with scripts off. Pure: data in, markup out.
 */

export const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

const W = 680;
const H = 380;
const M = { left: 64, right: 24, top: 16, bottom: 52 };

interface Scale {
  map: (v: number) => number;
  ticks: number[];
  format: (v: number) => string;
}

export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(3));
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

function linearScale([lo, hi]: [number, number], [r0, r1]: [number, number], tickCount = 6): Scale {
  if (hi <= lo) [lo, hi] = [lo - 1, hi + 1];
  const step = niceStep(hi - lo, tickCount);
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return { map: (v) => r0 + ((v - lo) / (hi - lo)) * (r1 - r0), ticks, format: formatTick };
}

function logScale([lo, hi]: [number, number], [r0, r1]: [number, number]): Scale {
  lo = Math.max(lo, 1e-9);
  if (hi <= lo) hi = lo * 10;
  const [l0, l1] = [Math.log10(lo), Math.log10(hi)];
  const ticks: number[] = [];
  const decades = l1 - l0;
  const mults = decades > 4 ? [1] : decades > 1.5 ? [1, 2, 5] : [1, 1.5, 2, 3, 5, 7];
  for (let e = Math.floor(l0); e <= Math.ceil(l1); e++) for (const m of mults) if (m * 10 ** e >= lo * 0.999 && m * 10 ** e <= hi * 1.001) ticks.push(m * 10 ** e);
  return { map: (v) => r0 + ((Math.log10(Math.max(v, lo)) - l0) / (l1 - l0)) * (r1 - r0), ticks, format: formatTick };
}

/** A domain around the data with a little room, or [0, 1] when there is none. */
function extent(values: number[], pad = 0.05, log = false): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (finite.length === 0) return log ? [1, 10] : [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (log) return lo === hi ? [lo / 2, hi * 2] : [lo / (1 + pad * 4), hi * (1 + pad * 4)];
  if (lo === hi) return [lo - Math.abs(lo || 1) * 0.5, hi + Math.abs(hi || 1) * 0.5];
  const span = hi - lo;
  lo -= span * pad;
  hi += span * pad;
  return [lo, hi];
}

const f = (v: number) => (Math.round(v * 10) / 10).toString();

function frame(x: Scale, y: Scale, xLabel: string, yLabel: string, height: number): string {
  const [x0, x1, y0, y1] = [M.left, W - M.right, height - M.bottom, M.top];
  const parts: string[] = [];
  for (const t of x.ticks) {
    const px = f(x.map(t));
    parts.push(`<line class="grid" x1="${px}" x2="${px}" y1="${y1}" y2="${y0}"/><text class="tick" x="${px}" y="${y0 + 16}" text-anchor="middle">${escapeHtml(x.format(t))}</text>`);
  }
  for (const t of y.ticks) {
    const py = f(y.map(t));
    parts.push(`<line class="grid" x1="${x0}" x2="${x1}" y1="${py}" y2="${py}"/><text class="tick" x="${x0 - 6}" y="${py}" dy="0.32em" text-anchor="end">${escapeHtml(y.format(t))}</text>`);
  }
  parts.push(`<rect class="axes" x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}"/>`);
  parts.push(`<text class="label" x="${(x0 + x1) / 2}" y="${height - 12}" text-anchor="middle">${escapeHtml(xLabel)}</text>`);
  parts.push(`<text class="label" transform="translate(16 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`);
  return parts.join("");
}

function svg(kind: string, height: number, body: string, description: string): string {
  return `<svg class="plot" data-plot="${escapeHtml(kind)}" viewBox="0 0 ${W} ${height}" role="img" aria-label="${escapeHtml(description)}" xmlns="http://www.w3.org/2000/svg">${body}</svg>`;
}

export interface ScatterPoint {
  id: string;
  label: string;
  x: number;
  y: number;
  xLow?: number | null;
  xHigh?: number | null;
  yLow?: number | null;
  yHigh?: number | null;
  color: string;
}

/** The points no other point beats on both axes (higher x and higher y are better), by x. */
export function paretoFrontier<P extends { x: number; y: number }>(points: readonly P[]): P[] {
  const byX = [...points].sort((a, b) => b.x - a.x || b.y - a.y);
  const frontier: P[] = [];
  let bestY = -Infinity;
  for (const p of byX) {
    if (p.y > bestY) {
      frontier.push(p);
      bestY = p.y;
    }
  }
  return frontier.reverse();
}

/** Points with error bars on both axes; the Pareto frontier (higher is better on both) as a dashed step line. */
export function scatterPlot(opts: { kind: string; points: ScatterPoint[]; xLabel: string; yLabel: string; xLog?: boolean; yDomain?: [number, number]; frontier?: boolean; better?: { x: "higher" | "lower"; y: "higher" | "lower" } }): string {
  const pts = opts.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!opts.xLog || p.x > 0));
  const xs = pts.flatMap((p) => [p.x, p.xLow ?? p.x, p.xHigh ?? p.x]);
  const x = opts.xLog ? logScale(extent(xs, 0.05, true), [M.left, W - M.right]) : linearScale(extent(xs), [M.left, W - M.right]);
  const y = linearScale(opts.yDomain ?? extent(pts.flatMap((p) => [p.y, p.yLow ?? p.y, p.yHigh ?? p.y])), [H - M.bottom, M.top]);
  const parts = [frame(x, y, opts.xLabel, opts.yLabel, H)];
  // The frontier where lower is better on an axis: the same search with that axis negated.
  const sx = opts.better?.x === "lower" ? -1 : 1;
  const sy = opts.better?.y === "lower" ? -1 : 1;
  const frontierPts = opts.frontier ? paretoFrontier(pts.map((p) => ({ ...p, x: sx * p.x, y: sy * p.y }))).map((p) => ({ ...p, x: sx * p.x, y: sy * p.y })).sort((a, b) => a.x - b.x) : [];
  const onFrontier = new Set(frontierPts.map((p) => p.id));
  if (opts.frontier && onFrontier.size > 1) {
    const line = frontierPts
      .map((p) => `${f(x.map(p.x))},${f(y.map(p.y))}`)
      .join(" ");
    parts.push(`<polyline class="frontier" points="${line}"/>`);
  }
  for (const p of pts) {
    const [px, py] = [f(x.map(p.x)), f(y.map(p.y))];
    const bars: string[] = [];
    if (p.yLow != null && p.yHigh != null) bars.push(`<line class="err" x1="${px}" x2="${px}" y1="${f(y.map(p.yLow))}" y2="${f(y.map(p.yHigh))}" stroke="${p.color}"/>`);
    if (p.xLow != null && p.xHigh != null && (!opts.xLog || p.xLow > 0)) bars.push(`<line class="err" x1="${f(x.map(p.xLow))}" x2="${f(x.map(p.xHigh))}" y1="${py}" y2="${py}" stroke="${p.color}"/>`);
    const tip = `${p.label}: ${opts.yLabel} ${formatTick(p.y)}${p.yLow != null && p.yHigh != null ? ` [${formatTick(p.yLow)}, ${formatTick(p.yHigh)}]` : ""}; ${opts.xLabel} ${formatTick(p.x)}${onFrontier.has(p.id) ? " (Pareto frontier)" : ""}`;
    parts.push(
      `<g class="point${onFrontier.has(p.id) ? " on-frontier" : ""}" data-id="${escapeHtml(p.id)}"><title>${escapeHtml(tip)}</title>${bars.join("")}<circle cx="${px}" cy="${py}" r="5" fill="${p.color}"/><text class="point-label" x="${+px + 8}" y="${+py - 6}">${escapeHtml(p.label)}</text></g>`,
    );
  }
  return svg(opts.kind, H, parts.join(""), `${opts.yLabel} against ${opts.xLabel}`);
}

export interface Series {
  name: string;
  color: string;
  points: [number, number][];
  /** Labelled marks on the curve (P50, P95, P99). */
  marks?: { x: number; y: number; label: string }[];
}

/** Lines with a legend below; `step` draws a step function (an empirical CDF). */
export function linePlot(opts: { kind: string; series: Series[]; xLabel: string; yLabel: string; xLog?: boolean; yDomain?: [number, number]; step?: boolean; xTicks?: number[] }): string {
  const legendRows = Math.ceil(opts.series.length / 3);
  const height = H + 6 + legendRows * 18;
  // With several curves, mark labels would pile up: the dots stay, their values in tooltips.
  const labelMarks = opts.series.length === 1;
  const all = opts.series.flatMap((s) => s.points);
  const x = opts.xLog ? logScale(extent(all.map((p) => p[0]), 0.02, true), [M.left, W - M.right]) : linearScale(extent(all.map((p) => p[0]), 0.02), [M.left, W - M.right]);
  if (opts.xTicks) x.ticks = opts.xTicks; // the measured settings themselves (1, 2, 4, 8 sequences)
  const y = linearScale(opts.yDomain ?? extent(all.map((p) => p[1])), [H - M.bottom, M.top]);
  const parts = [frame(x, y, opts.xLabel, opts.yLabel, H)];
  opts.series.forEach((s, i) => {
    const pts = s.points.filter(([a]) => !opts.xLog || a > 0);
    const coords: string[] = [];
    pts.forEach(([a, b], j) => {
      if (opts.step && j > 0) coords.push(`${f(x.map(a))},${f(y.map((pts[j - 1] as [number, number])[1]))}`);
      coords.push(`${f(x.map(a))},${f(y.map(b))}`);
    });
    const marks = (s.marks ?? [])
      .filter((m) => !opts.xLog || m.x > 0)
      .map((m) => `<g class="mark"><title>${escapeHtml(`${s.name}: ${m.label} ${formatTick(m.x)}`)}</title><circle cx="${f(x.map(m.x))}" cy="${f(y.map(m.y))}" r="3.5" fill="${s.color}"/>${labelMarks ? `<text class="mark-label" x="${f(x.map(m.x) + 4)}" y="${f(y.map(m.y) + 12)}">${escapeHtml(m.label)}</text>` : ""}</g>`)
      .join("");
    // Few points (measured settings, not a distribution): draw each one.
    const dots = !opts.step && pts.length <= 24 ? pts.map(([a, b]) => `<circle cx="${f(x.map(a))}" cy="${f(y.map(b))}" r="3" fill="${s.color}"><title>${escapeHtml(`${s.name}: ${formatTick(a)} → ${formatTick(b)}`)}</title></circle>`).join("") : "";
    parts.push(`<g class="series" data-series="${escapeHtml(s.name)}"><title>${escapeHtml(s.name)}</title><polyline class="line" points="${coords.join(" ")}" stroke="${s.color}"/>${dots}${marks}</g>`);
    const lx = M.left + (i % 3) * 200;
    const ly = H + 14 + Math.floor(i / 3) * 18;
    parts.push(`<g class="legend"><rect x="${lx}" y="${ly - 9}" width="12" height="4" fill="${s.color}"/><text class="tick" x="${lx + 16}" y="${ly - 4}">${escapeHtml(truncate(s.name, 30))}</text></g>`);
  });
  return svg(opts.kind, height, parts.join(""), `${opts.yLabel} against ${opts.xLabel}`);
}

/** A value in [0, 1] as a colour from red through yellow to green. */
export function rateColor(v: number): string {
  const stops: [number, [number, number, number]][] = [
    [0, [215, 48, 39]],
    [0.5, [254, 224, 139]],
    [1, [26, 152, 80]],
  ];
  const t = Math.min(1, Math.max(0, v));
  const i = t <= 0.5 ? 0 : 1;
  const [t0, c0] = stops[i] as [number, [number, number, number]];
  const [t1, c1] = stops[i + 1] as [number, [number, number, number]];
  const u = (t - t0) / (t1 - t0);
  const c = c0.map((a, k) => Math.round(a + (c1[k] as number - a) * u));
  return `rgb(${c.join(",")})`;
}

/** A change in [−1, 1] (a pass-rate difference): red for losses, yellow for none, green for gains; ±20 points saturate. */
export function changeColor(v: number): string {
  return rateColor(0.5 + v * 2.5);
}

/** Rows × columns of rates in [0, 1], coloured, with the value written in each. */
export function heatmap(opts: { kind: string; rows: string[]; cols: string[]; values: (number | null)[][]; rowTitle: string; colTitle: string; tips?: (string | null)[][]; color?: (v: number) => string; format?: (v: number) => string }): string {
  const color = opts.color ?? rateColor;
  const show = opts.format ?? ((v: number) => v.toFixed(2));
  const labelWidth = Math.min(260, 12 + 7 * Math.max(4, ...opts.rows.map((r) => Math.min(r.length, 36))));
  const cw = Math.max(34, Math.min(90, (W - labelWidth - 10) / Math.max(1, opts.cols.length)));
  const ch = 22;
  const top = 40;
  const width = Math.max(W, labelWidth + cw * opts.cols.length + 10);
  const height = top + ch * opts.rows.length + 26;
  const parts: string[] = [];
  // The column title starts after the row title when that is wider than the row labels.
  const colTitleX = Math.max(labelWidth, 4 + 7 * (opts.rowTitle.length + 2) + 12);
  parts.push(`<text class="label" x="${colTitleX}" y="14">${escapeHtml(opts.colTitle)} →</text><text class="label" x="4" y="14">${escapeHtml(opts.rowTitle)} ↓</text>`);
  opts.cols.forEach((c, j) => parts.push(`<text class="tick" x="${f(labelWidth + cw * j + cw / 2)}" y="${top - 6}" text-anchor="middle">${escapeHtml(truncate(c, Math.floor(cw / 6.5)))}<title>${escapeHtml(c)}</title></text>`));
  opts.rows.forEach((r, i) => {
    const y = top + ch * i;
    parts.push(`<text class="tick" x="${labelWidth - 6}" y="${y + ch / 2}" dy="0.32em" text-anchor="end">${escapeHtml(truncate(r, 36))}<title>${escapeHtml(r)}</title></text>`);
    opts.cols.forEach((c, j) => {
      const v = opts.values[i]?.[j] ?? null;
      const x = labelWidth + cw * j;
      const tip = opts.tips?.[i]?.[j] ?? `${r} · ${c}: ${v === null ? "no data" : v.toFixed(3)}`;
      parts.push(
        `<g class="hcell"><title>${escapeHtml(tip)}</title><rect x="${f(x)}" y="${y}" width="${f(cw - 2)}" height="${ch - 2}" fill="${v === null ? "#eee" : color(v)}"/><text class="hval" x="${f(x + cw / 2 - 1)}" y="${y + ch / 2}" dy="0.32em" text-anchor="middle">${v === null ? "–" : show(v)}</text></g>`,
      );
    });
  });
  return `<svg class="plot" data-plot="${escapeHtml(opts.kind)}" viewBox="0 0 ${f(width)} ${height}" role="img" aria-label="${escapeHtml(`${opts.rowTitle} by ${opts.colTitle}`)}" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg>`;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, Math.max(1, n - 1))}…`;
}

/** At most `n` points of an empirical CDF of `values` (sorted ascending), for a step plot. */
export function cdfPoints(values: readonly number[], n = 200): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const k = Math.min(n, sorted.length);
  const pts: [number, number][] = [];
  for (let i = 0; i < k; i++) {
    const idx = k === 1 ? sorted.length - 1 : Math.round((i / (k - 1)) * (sorted.length - 1));
    pts.push([sorted[idx] as number, (idx + 1) / sorted.length]);
  }
  return pts;
}
