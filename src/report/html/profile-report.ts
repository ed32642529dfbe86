import type { ProfileResult } from "../../profile/grid.js";
import { profileRows, recommendations } from "../profile.js";
import { escapeHtml } from "./escape.js";
import { figure, page } from "./page.js";
import { linePlot, PALETTE, type Series } from "./svg.js";

/** profile.json as `heldout profile` writes it. */
export interface ProfileFile {
  kind: "profile";
  runId: string;
  createdAt: string;
  reps: number;
  warmup: boolean | number;
  copyBandwidthBytesPerSecond: number;
  results: ProfileResult[];
}

/** The grid dimensions a scaling curve can run along. */
const AXES = [
  { key: "parallel", label: "parallel sequences", value: (r: ProfileResult) => r.point.parallel },
  { key: "depth", label: "context depth, tokens", value: (r: ProfileResult) => r.point.depth },
  { key: "threads", label: "threads", value: (r: ProfileResult) => Number(r.engine.threads ?? r.point.threads) },
  { key: "batchSize", label: "batch size", value: (r: ProfileResult) => r.point.batchSize },
] as const;

const binaryOf = (r: ProfileResult) => (r.point.engine === "llama-server" ? "llama-server" : String(r.engine.binary ?? r.point.binary));

/**
 * Scaling curves: for each test (pp512, tg128...) and each grid dimension with several values,
 * median tokens/s along it, one line per combination of everything else. Aggregate over all
 * sequences, so a flat line against parallel sequences means no batching gain.
 */
export function scalingPlots(results: readonly ProfileResult[]): string[] {
  const ok = results.filter((r) => !r.error && r.stats.median !== null);
  const figures: string[] = [];
  const tests = [...new Set(ok.map((r) => `${r.test.kind}${r.test.tokens}`))];
  for (const test of tests) {
    const mine = ok.filter((r) => `${r.test.kind}${r.test.tokens}` === test);
    for (const axis of AXES) {
      const values = new Set(mine.map(axis.value).filter((v) => v !== null));
      if (values.size < 2) continue;
      // A line per combination of what else varies here, named by those settings only.
      const varying = (v: (r: ProfileResult) => unknown) => new Set(mine.map((r) => String(v(r)))).size > 1;
      const parts: ((r: ProfileResult) => string)[] = [
        ...(varying((r) => r.model) ? [(r: ProfileResult) => r.model + (r.synthetic ? " (synthetic)" : "")] : []),
        ...(varying(binaryOf) ? [binaryOf] : []),
        ...AXES.filter((a) => a.key !== axis.key && varying(a.value)).map((a) => (r: ProfileResult) => `${a.key} ${a.value(r) ?? "auto"}`),
        ...(varying((r) => r.point.flashAttention) ? [(r: ProfileResult) => `FA ${r.point.flashAttention ? "on" : "off"}`] : []),
      ];
      const seriesKey = (r: ProfileResult) => (parts.length ? parts.map((p) => p(r)).join(", ") : r.model);
      const groups = new Map<string, ProfileResult[]>();
      for (const r of mine) groups.set(seriesKey(r), [...(groups.get(seriesKey(r)) ?? []), r]);
      const series: Series[] = [...groups.entries()].map(([name, rs], i) => ({
        name,
        color: PALETTE[i % PALETTE.length] as string,
        points: rs
          .filter((r) => axis.value(r) !== null)
          .map((r): [number, number] => [axis.value(r) as number, r.stats.median as number])
          .sort((a, b) => a[0] - b[0]),
      }));
      const xs = [...values] as number[];
      const xLog = Math.min(...xs) > 0 && Math.max(...xs) / Math.min(...xs) >= 8;
      figures.push(
        figure(
          linePlot({ kind: `scaling-${axis.key}`, series, xLabel: axis.label, yLabel: `${test} tokens/s (median)`, xLog, xTicks: xs.sort((a, b) => a - b) }),
          `${test}: tokens/s against ${axis.label}${axis.key === "parallel" ? " (all sequences together)" : ""}.`,
        ),
      );
    }
  }
  return figures;
}

export function profileReportHtml(file: ProfileFile): string {
  const rows = profileRows(file.results);
  const [head, ...body] = rows as [string[], ...string[][]];
  const table = `<div class="table-wrap"><table class="sortable" id="profile-table"><thead><tr>${head.map((h, i) => `<th${i < 2 || i === 7 ? ' class="text"' : ""}>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${body
    .map((r, k) => {
      const res = file.results[k] as ProfileResult;
      return `<tr>${r
        .map((v, i) => {
          const sortValue = i === 8 ? res.stats.mean : i === 9 ? res.stats.median : i === 10 ? res.perSequence.median : i === 11 ? (res.roofline?.share ?? res.roofline?.flopsPerSecond ?? null) : null;
          const numeric = i >= 2 && i !== 7;
          return `<td${numeric ? "" : ' class="text"'}${sortValue !== null || numeric ? ` data-v="${sortValue ?? (Number.isFinite(Number(v)) ? v : "")}"` : ""}>${escapeHtml(v)}</td>`;
        })
        .join("")}</tr>`;
    })
    .join("\n")}</tbody></table></div>`;
  const advice = recommendations(file.results);
  const plots = scalingPlots(file.results);
  const bodyHtml = [
    `<header><h1>${escapeHtml(`throughput profile ${file.runId}`)}</h1><dl class="facts"><dt>date</dt><dd>${escapeHtml(file.createdAt)}</dd><dt>repetitions</dt><dd>${file.reps} after a warm-up</dd><dt>copy bandwidth</dt><dd>${(file.copyBandwidthBytesPerSecond / 1e9).toFixed(1)} GB/s (the roofline's reference)</dd></dl></header>`,
    `<section id="summary"><h2>Results</h2>${table}<p class="note">Like llama-bench: mean ± sd over repetitions; pp = prompt processing, tg = generation. Roofline: for tg, the memory bandwidth the median implies (weights read once per step) as a share of the measured copy bandwidth; for pp, achieved FLOP/s.</p></section>`,
    advice.length ? `<section id="advice"><h2>Recommended settings</h2><ul>${advice.map((a) => `<li>${escapeHtml(a)}</li>`).join("")}</ul></section>` : "",
    `<section id="plots"><h2>Scaling</h2>${plots.length ? `<div class="plots">${plots.join("\n")}</div>` : '<p class="note">Nothing to plot: every grid dimension had a single value. Profile with lists (for example --parallel 1,2,4,8 or --depth 0,512,2048) to get scaling curves.</p>'}</section>`,
  ].join("\n");
  return page(`heldout profile ${file.runId}`, bodyHtml);
}
