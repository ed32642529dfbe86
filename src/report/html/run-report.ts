import { NO_AREA, type CellExecution, type CellSummary, type Summary } from "../../core/summary.js";
import type { RunRecord } from "../../core/types.js";
import type { LoadedRun } from "../../store/runs.js";
import { formatBytes, formatMoney, formatMs, formatNumber, formatRate, shortName } from "../table.js";
import type { AblationFile } from "../../weights/ablate.js";
import type { QuantizationFile } from "../../weights/quantize-sweep.js";
import { escapeHtml, jsonForScript } from "./escape.js";
import { ablationSection, quantizationSection } from "./weights-report.js";
import { figure, num, page, sortableTable, text } from "./page.js";
import { cdfPoints, heatmap, linePlot, PALETTE, scatterPlot, type ScatterPoint, type Series } from "./svg.js";

/**
 * The HTML report of a run: header (suite, machine, software, model files), the sortable summary
 * table, plots, the paired comparisons and a task browser with every cell's output side by side.
 * Pure: the caller reads the run (and, when it is at hand, the suite's expected answers).
 */

export interface RunReportInput {
  run: LoadedRun;
  executions: readonly CellExecution[];
  /** Expected answers by task id; null when the suite is not at hand (`expectedNote` says why). */
  expected: Map<string, string> | null;
  expectedNote: string | null;
  /** For a test run of a sealed split: the dev runs its settings were chosen on (manifest split.chosenOn). */
  devRuns?: { runId: string; summary: Summary }[];
  /** Written by `heldout quantize-sweep` into the run folder. */
  quantization?: QuantizationFile | null;
  /** Written by `heldout ablate` into the run folder. */
  ablation?: AblationFile | null;
}

/** At most this many cells get a curve in the distribution plots (the best per model first). */
const MAX_CURVES = 12;

export function cellName(c: Pick<CellSummary, "modelId" | "label">): string {
  const settings = Object.entries(c.label).map(([k, v]) => `${shortName(k)}=${v}`);
  return settings.length ? `${c.modelId} (${settings.join(", ")})` : c.modelId;
}

export function runReportHtml(input: RunReportInput): string {
  const { summary } = input.run;
  const cells = summary.cells;
  const colorOf = modelColors(cells);
  const recordsByCell = groupBy(input.run.records, (r) => r.cellId);
  const body = [
    header(input),
    `<nav class="toc"><a href="#summary">Summary</a>${input.quantization ? '<a href="#quantization">Quantization</a>' : ""}${input.ablation ? '<a href="#ablation">Ablation</a>' : ""}<a href="#plots">Plots</a>${summary.comparisons.length ? '<a href="#comparisons">Comparisons</a>' : ""}${summary.subjective ? '<a href="#ratings">People\'s ratings</a>' : ""}${summary.cells.some((c) => c.rubrics?.length) ? '<a href="#rubrics">Rubrics</a>' : ""}${summary.cells.some((c) => c.cost) ? '<a href="#cost">Cost</a>' : ""}<a href="#models">Models</a><a href="#tasks">Tasks</a></nav>`,
    summarySection(input),
    input.quantization ? quantizationSection(input.quantization) : "",
    input.ablation ? ablationSection(input.ablation) : "",
    plotsSection(cells, recordsByCell, colorOf),
    comparisonsSection(input),
    devTestSection(input),
    ratingsSection(input),
    rubricsSection(input),
    costSection(input),
    modelsSection(input),
    tasksSection(input),
  ].join("\n");
  return page(`heldout: ${summary.suite.name} · ${summary.runId}`, body);
}

function header({ run }: RunReportInput): string {
  const { manifest: m, summary: s } = run;
  const sys = m.system;
  const gpus = sys?.gpus?.length ? sys.gpus.map((g) => `${g.vendor} ${g.model}${g.vramBytes ? ` (${formatBytes(g.vramBytes)})` : ""}`).join("; ") : "none detected";
  const facts: [string, string][] = [
    ["run", s.runId],
    ["date", m.createdAt ?? ""],
    ["command", (m.command ?? []).join(" ")],
    ["suite", `${s.suite.name}: ${s.suite.tasks} tasks, sha256 ${s.suite.hash}${m.suite?.frozen === false ? " (NOT frozen)" : ""}`],
    ["split", m.split ? `${m.split.name} of the sealed split (seed ${m.split.seed}, split sha256 ${m.split.hash.slice(0, 12)}…)${m.split.unsealed ? `; UNSEALED test run${m.split.chosenOn?.length ? `, settings chosen on dev run(s) ${m.split.chosenOn.join(", ")}` : ", no dev run given for the chosen settings"}` : ""}` : ""],
    ["profile", m.profile ? `${m.profile.name}${m.profile.file ? ` (${m.profile.file})` : ""}${m.profile.swept?.length ? `; swept: ${m.profile.swept.join(", ")}` : ""}` : ""],
    ["cpu", sys ? `${sys.cpu.manufacturer} ${sys.cpu.brand}, ${sys.cpu.cores} logical / ${sys.cpu.physicalCores} physical cores${sys.cpu.speedGHz ? `, ${sys.cpu.speedGHz} GHz` : ""}` : ""],
    ["memory", sys ? formatBytes(sys.memory.totalBytes) : ""],
    ["gpu", gpus],
    ["os", sys ? `${sys.os.distro} ${sys.os.release} (${sys.os.platform} ${sys.os.arch}, kernel ${sys.os.kernel})` : ""],
    ["software", sys ? `node ${sys.software.node}, heldout ${sys.software.heldout}, node-llama-cpp ${sys.software.nodeLlamaCpp}` : ""],
  ];
  const warnings = (s.warnings ?? []).map((w) => `<p class="warning">${escapeHtml(w)}</p>`).join("");
  return `<header><h1>${escapeHtml(`${s.suite.name}: ${s.cells.length} cell${s.cells.length === 1 ? "" : "s"}`)}</h1><dl class="facts">${facts
    .filter(([, v]) => v)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join("")}</dl>${warnings}</header>`;
}

function summarySection({ run }: RunReportInput): string {
  const { summary } = run;
  const best = new Set(summary.best.map((b) => b.cellId));
  const several = new Set(summary.cells.map((c) => c.modelId)).size < summary.cells.length;
  const headers = [
    { label: "cell", text: true },
    { label: "status", text: true },
    { label: "pass", title: "share of generations scored as passing" },
    { label: "95% CI", title: "Wilson, or a bootstrap over tasks with several samples" },
    { label: "n" },
    { label: "gen tok/s", title: "median per generation, with the 95% bootstrap interval of the median" },
    { label: "prompt tok/s", title: "median per generation" },
    { label: "engine tok/s", title: "completion tokens of all sequences ÷ generation wall time" },
    { label: "TTFT p50 ms" },
    { label: "latency p50 ms" },
    { label: "p95 ms" },
    { label: "p99 ms" },
    { label: "load ms" },
    { label: "peak RSS" },
    { label: "peak VRAM" },
    { label: "failures" },
  ];
  const rows = summary.cells.map((c) => {
    const ci = c.passRateInterval;
    const g = c.intervals.generationTokensPerSecondMedian;
    return {
      cls: several && best.has(c.cellId) ? "best" : "",
      cells: [
        `<td class="text" title="${escapeHtml(c.cellId)}">${escapeHtml(cellName(c))}</td>`,
        text(c.status + (c.error ? `: ${c.error.split("\n")[0]}` : ""), `text status-${c.status}`),
        num(c.passRate, formatRate(c.passRate)),
        num(ci?.low, ci ? `${ci.low.toFixed(3)}–${ci.high.toFixed(3)}` : "–", "ci"),
        num(c.n, String(c.n)),
        num(c.generationTokensPerSecond.median, `${formatNumber(c.generationTokensPerSecond.median)}${g ? ` (${formatNumber(g[0])}–${formatNumber(g[1])})` : ""}`),
        num(c.promptTokensPerSecond.median, formatNumber(c.promptTokensPerSecond.median)),
        num(c.aggregateCompletionTokensPerSecond, formatNumber(c.aggregateCompletionTokensPerSecond)),
        num(c.ttftMs.p50, formatMs(c.ttftMs.p50)),
        num(c.latencyMs.p50, formatMs(c.latencyMs.p50)),
        num(c.latencyMs.p95, formatMs(c.latencyMs.p95)),
        num(c.latencyMs.p99, formatMs(c.latencyMs.p99)),
        num(c.loadMs, formatMs(c.loadMs)),
        num(c.peakRssBytes, formatBytes(c.peakRssBytes)),
        num(c.peakVramBytes, formatBytes(c.peakVramBytes)),
        num(c.failures.rate, c.failures.rate === null ? "–" : `${(c.failures.rate * 100).toFixed(1)}% (${c.failures.total})`),
      ],
    };
  });
  return `<section id="summary"><h2>Summary</h2>${sortableTable("summary-table", headers, rows)}<p class="note">Click a column to sort.${several ? " ★ the best cell of each model (pass rate, then generation speed)." : ""} Latency is end to end; tok/s are medians over generations.</p></section>`;
}

function plotsSection(cells: readonly CellSummary[], recordsByCell: Map<string, RunRecord[]>, colorOf: (model: string) => string): string {
  const figures: string[] = [];
  const points: ScatterPoint[] = cells
    .filter((c) => c.passRate !== null && c.generationTokensPerSecond.median !== null)
    .map((c) => {
      const g = c.intervals.generationTokensPerSecondMedian;
      return {
        id: c.cellId,
        label: cellName(c),
        x: c.generationTokensPerSecond.median as number,
        y: c.passRate as number,
        xLow: g?.[0] ?? null,
        xHigh: g?.[1] ?? null,
        yLow: c.passRateInterval?.low ?? null,
        yHigh: c.passRateInterval?.high ?? null,
        color: colorOf(c.modelId),
      };
    });
  if (points.length > 0) {
    const xs = points.map((p) => p.x);
    const xLog = Math.max(...xs) / Math.max(1e-9, Math.min(...xs)) > 20;
    figures.push(
      figure(
        scatterPlot({ kind: "accuracy-speed", points, xLabel: "generation tokens/s (median)", yLabel: "pass rate", xLog, yDomain: [0, 1], frontier: true }),
        "Accuracy against generation speed, with 95% intervals on both. Dashed: the Pareto frontier (no other cell is both faster and more accurate).",
      ),
    );
  }
  const curves = curveCells(cells);
  const note = curves.length < cells.length ? ` ${curves.length} of ${cells.length} cells shown (the best of each model first).` : "";
  const cdf = (kind: string, label: string, marksText: string, value: (r: RunRecord) => number | null, marks: (c: CellSummary) => [string, number | null, number][]): string | null => {
    const series: Series[] = curves
      .map((c) => {
        const values = (recordsByCell.get(c.cellId) ?? []).filter((r) => r.finishReason !== "error").map(value).filter((v): v is number => v !== null && Number.isFinite(v));
        return {
          name: cellName(c),
          color: colorOf(c.modelId),
          points: cdfPoints(values),
          marks: marks(c)
            .filter((m): m is [string, number, number] => m[1] !== null)
            .map(([l, x, y]) => ({ label: l, x, y })),
        };
      })
      .filter((s) => s.points.length > 0);
    if (series.length === 0) return null;
    const all = series.flatMap((s) => s.points.map((p) => p[0])).filter((v) => v > 0);
    const xLog = all.length > 0 && Math.max(...all) / Math.max(1e-9, Math.min(...all)) > 30;
    return figure(linePlot({ kind, series, xLabel: label, yLabel: "share of generations ≤ x", xLog, yDomain: [0, 1], step: true }), `Distribution (empirical CDF) of ${label} per cell; dots mark ${marksText} (hover for values).${note}`);
  };
  const latency = cdf("latency-cdf", "end-to-end latency, ms", "P50, P95 and P99", (r) => r.latencyMs, (c) => [
    ["P50", c.latencyMs.p50, 0.5],
    ["P95", c.latencyMs.p95, 0.95],
    ["P99", c.latencyMs.p99, 0.99],
  ]);
  if (latency) figures.push(latency);
  const ttft = cdf("ttft-cdf", "time to first token, ms", "P50 and P95", (r) => r.ttftMs, (c) => [
    ["P50", c.ttftMs.p50, 0.5],
    ["P95", c.ttftMs.p95, 0.95],
  ]);
  if (ttft) figures.push(ttft);
  const areas = [...new Set(cells.flatMap((c) => c.areas.map((a) => a.area)))].sort();
  if (areas.length > 0 && cells.length > 0) {
    const values = cells.map((c) => areas.map((a) => c.areas.find((x) => x.area === a)?.passRate ?? null));
    const tips = cells.map((c) =>
      areas.map((a) => {
        const s = c.areas.find((x) => x.area === a);
        return s ? `${cellName(c)} · ${a}: ${formatRate(s.passRate)} (${s.passed}/${s.n}${s.passRateInterval ? `, 95% CI ${s.passRateInterval.low.toFixed(3)}–${s.passRateInterval.high.toFixed(3)}` : ""})` : null;
      }),
    );
    const label = areas.length === 1 && areas[0] === NO_AREA ? "all tasks" : "area";
    figures.push(figure(heatmap({ kind: "area-heatmap", rows: cells.map(cellName), cols: areas, values, rowTitle: "cell", colTitle: label, tips }), "Pass rate per area and cell."));
  }
  figures.push(...samplingHeatmaps(cells));
  const calibrated = curves.filter((c) => c.calibration && c.calibration.n > 0);
  if (calibrated.length > 0) {
    const series: Series[] = calibrated.map((c) => ({ name: cellName(c), color: colorOf(c.modelId), points: (c.calibration?.riskCoverage ?? []).filter((x) => x.accuracy !== null).map((x): [number, number] => [x.coverage, x.accuracy as number]) }));
    figures.push(figure(linePlot({ kind: "risk-coverage", series, xLabel: "coverage: share of answers kept, most confident first", yLabel: "pass rate of the answers kept", yDomain: [0, 1] }), "Risk–coverage: accuracy when the least confident answers are set aside (confidence: geometric-mean token probability)."));
    const rel: Series[] = calibrated.map((c) => ({ name: cellName(c), color: colorOf(c.modelId), points: (c.calibration?.bins ?? []).filter((b) => b.n > 0 && b.confidence !== null).map((b): [number, number] => [b.confidence as number, b.accuracy as number]) }));
    rel.push({ name: "perfect calibration", color: "#999", points: [[0, 0], [1, 1]] });
    figures.push(figure(linePlot({ kind: "reliability", series: rel, xLabel: "confidence (bin mean)", yLabel: "pass rate in the bin", yDomain: [0, 1] }), `Reliability: pass rate against confidence in 10 bins. ${calibrated.map((c) => `${cellName(c)}: ECE ${c.calibration?.ece?.toFixed(3)}, confidently wrong ${((c.calibration?.confidentlyWrong ?? 0) * 100).toFixed(1)}%`).join("; ")}.`));
  }
  return `<section id="plots"><h2>Plots</h2><div class="plots">${figures.join("\n")}</div></section>`;
}

/** For sampling sweeps: pass rate over the first two swept sampling parameters, one map per model. */
function samplingHeatmaps(cells: readonly CellSummary[]): string[] {
  const keys = [...new Set(cells.flatMap((c) => Object.keys(c.label)))].filter((k) => k.startsWith("sampling.") && new Set(cells.map((c) => c.label[k])).size > 1);
  if (keys.length < 2) return [];
  const [rowKey, colKey] = keys as [string, string];
  const others = [...new Set(cells.flatMap((c) => Object.keys(c.label)))].filter((k) => k !== rowKey && k !== colKey && new Set(cells.map((c) => c.label[k])).size > 1);
  const order = (vs: (string | undefined)[]) => [...new Set(vs.filter((v): v is string => v !== undefined))].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  return [...new Set(cells.map((c) => c.modelId))].map((model) => {
    const mine = cells.filter((c) => c.modelId === model);
    const rows = order(mine.map((c) => c.label[rowKey]));
    const cols = order(mine.map((c) => c.label[colKey]));
    const values = rows.map((rv) =>
      cols.map((cv) => {
        const rates = mine.filter((c) => c.label[rowKey] === rv && c.label[colKey] === cv && c.passRate !== null).map((c) => c.passRate as number);
        return rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : null;
      }),
    );
    const svgMarkup = heatmap({ kind: "sampling-heatmap", rows, cols, values, rowTitle: shortName(rowKey), colTitle: shortName(colKey) });
    return figure(svgMarkup, `${model}: pass rate over ${shortName(rowKey)} × ${shortName(colKey)}${others.length ? ` (mean over ${others.map(shortName).join(", ")})` : ""}.`);
  });
}

function comparisonsSection({ run }: RunReportInput): string {
  const list = run.summary.comparisons;
  if (list.length === 0) return "";
  const name = new Map(run.summary.cells.map((c) => [c.cellId, cellName(c)]));
  const headers = [
    { label: "candidate", text: true },
    { label: "tasks" },
    { label: "difference", title: "candidate − baseline pass rate" },
    { label: "95% CI" },
    { label: "wins" },
    { label: "losses" },
    { label: "p" },
    { label: "p (Holm)" },
    { label: "MDD", title: "minimal detectable difference at 80% power" },
    { label: "verdict", text: true },
  ];
  const pct = (v: number | null) => (v === null ? "–" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)} pts`);
  const rows = list.map((c) => ({
    cls: c.significant ? "significant" : "",
    cells: [
      text(name.get(c.candidate) ?? c.candidate),
      num(c.tasks, String(c.tasks)),
      num(c.difference, pct(c.difference)),
      num(c.low, c.low === null || c.high === null ? "–" : `${pct(c.low)} to ${pct(c.high)}`),
      num(c.candidateWins, String(c.candidateWins)),
      num(c.baselineWins, String(c.baselineWins)),
      num(c.pValue, c.pValue.toPrecision(3)),
      num(c.pAdjusted, c.pAdjusted === null ? "–" : c.pAdjusted.toPrecision(3)),
      num(c.minimalDetectableDifference, pct(c.minimalDetectableDifference)),
      text(c.verdict, "wrap"),
    ],
  }));
  const base = list[0]?.baseline ?? "";
  return `<section id="comparisons"><h2>Comparisons</h2><p class="note">Every cell against the baseline, ${escapeHtml(name.get(base) ?? base)}, paired on the same tasks (exact McNemar test; the interval is a paired bootstrap)${list.length > 1 ? "; p adjusted by Holm over these comparisons" : ""}.</p>${sortableTable("comparisons-table", headers, rows)}</section>`;
}

/** A sealed split's test run beside the dev runs its settings were chosen on: overfitting to dev shows as a drop. */
function devTestSection({ run, devRuns }: RunReportInput): string {
  if (!devRuns?.length || !run.manifest.split?.unsealed) return "";
  const rows = run.summary.cells.flatMap((c) => {
    const dev = devRuns.flatMap((d) => d.summary.cells.filter((x) => x.cellId === c.cellId).map((x) => ({ id: d.runId, cell: x })))[0];
    if (!dev) return [];
    const diff = c.passRate !== null && dev.cell.passRate !== null ? c.passRate - dev.cell.passRate : null;
    return [
      {
        cells: [
          text(cellName(c)),
          text(dev.id),
          num(dev.cell.passRate, `${formatRate(dev.cell.passRate)} (n ${dev.cell.n})`),
          num(c.passRate, `${formatRate(c.passRate)} (n ${c.n})`),
          num(diff, diff === null ? "–" : `${diff >= 0 ? "+" : ""}${(diff * 100).toFixed(1)} pts`),
        ],
      },
    ];
  });
  if (rows.length === 0) return "";
  const headers = [{ label: "cell", text: true }, { label: "dev run", text: true }, { label: "pass on dev" }, { label: "pass on test" }, { label: "test − dev" }];
  return `<section id="dev-test"><h2>Dev vs test</h2><p class="note">The settings were chosen on the dev split; this run is the sealed test split. A large drop means the choice fitted dev's noise.</p>${sortableTable("dev-test-table", headers, rows)}</section>`;
}

/** People's blind ratings (heldout rate): mean scores per cell and area, Bradley–Terry strengths, agreement. */
function ratingsSection({ run }: RunReportInput): string {
  const q = run.summary.subjective;
  if (!q) return "";
  const name = new Map(run.summary.cells.map((c) => [c.cellId, cellName(c)]));
  const ci = (low: number | null, high: number | null) => (low === null || high === null ? "–" : `${low.toFixed(2)}–${high.toFixed(2)}`);
  const parts: string[] = [`<section id="ratings"><h2>People's ratings</h2><p class="note">${escapeHtml(`${q.ratings} blind rating(s) by ${q.raters.join(", ")} (heldout rate); intervals are 95% percentile bootstraps.`)}</p>`];
  const scored = (q.score?.cells ?? []).filter((c) => c.n > 0);
  if (scored.length) {
    const areas = [...new Set(scored.flatMap((c) => c.areas.map((a) => a.area)))].sort();
    const headers = [{ label: "cell", text: true }, { label: "mean score (1–5)" }, { label: "95% CI" }, { label: "n" }, ...areas.map((a) => ({ label: a }))];
    const rows = scored.map((c) => ({
      cells: [text(name.get(c.cellId) ?? c.cellId), num(c.mean, c.mean?.toFixed(2) ?? "–"), num(c.low, ci(c.low, c.high), "ci"), num(c.n, String(c.n)), ...areas.map((a) => {
        const x = c.areas.find((y) => y.area === a);
        return num(x?.mean ?? null, x?.mean === null || x === undefined ? "–" : `${x.mean.toFixed(2)} (n ${x.n})`);
      })],
    }));
    parts.push(sortableTable("ratings-table", headers, rows));
  }
  const pairs = (q.pairwise?.cells ?? []).filter((c) => c.n > 0);
  if (pairs.length) {
    const headers = [{ label: "cell", text: true }, { label: "Bradley–Terry strength", title: "log-strength, 0 = the average compared cell" }, { label: "95% CI" }, { label: "wins" }, { label: "ties" }, { label: "losses" }, { label: "n" }];
    const rows = pairs.map((c) => ({ cells: [text(name.get(c.cellId) ?? c.cellId), num(c.strength, c.strength?.toFixed(2) ?? "–"), num(c.low, ci(c.low, c.high), "ci"), num(c.wins, String(c.wins)), num(c.ties, String(c.ties)), num(c.losses, String(c.losses)), num(c.n, String(c.n))] }));
    parts.push(`<h3>Pairwise preference</h3>${sortableTable("pairwise-table", headers, rows)}`);
  }
  if (q.agreement.length) {
    parts.push(`<h3>Agreement between raters</h3><ul>${q.agreement.map((a) => `<li>${escapeHtml(`${a.raters.join(" and ")} (${a.mode}, ${a.n} items both rated): Cohen's κ ${a.kappa?.toFixed(2) ?? "–"} [${ci(a.low, a.high)}]${a.weightedKappa !== null ? `, quadratic-weighted ${a.weightedKappa.toFixed(2)}` : ""}; same rating on ${a.observedAgreement === null ? "–" : `${(a.observedAgreement * 100).toFixed(0)}%`} of them`)}</li>`).join("")}</ul>`);
  }
  parts.push("</section>");
  return parts.join("\n");
}

/** Every rubric side by side per cell, and where two rubrics rank the cells differently. */
function rubricsSection({ run }: RunReportInput): string {
  const cells = run.summary.cells.filter((c) => c.rubrics?.length);
  if (cells.length === 0) return "";
  const names = [...new Set(cells.flatMap((c) => (c.rubrics ?? []).map((r) => r.name)))];
  const headers = [{ label: "cell", text: true }, ...names.flatMap((n) => [{ label: n, title: "mean score 0–1" }, { label: `${n} 95% CI` }, { label: `${n} gated` }])];
  const rows = cells.map((c) => ({
    cells: [
      text(cellName(c)),
      ...names.flatMap((n) => {
        const r = c.rubrics?.find((x) => x.name === n);
        return [num(r?.mean ?? null, formatRate(r?.mean ?? null)), num(r?.low ?? null, r && r.low !== null && r.high !== null ? `${r.low.toFixed(3)}–${r.high.toFixed(3)}` : "–", "ci"), num(r?.gated ?? null, r ? `${r.gated} of ${r.n}` : "–")];
      }),
    ],
  }));
  const name = new Map(run.summary.cells.map((c) => [c.cellId, cellName(c)]));
  const notes = (run.summary.rubricDisagreements ?? []).map((d) =>
    d.pairs.length === 0
      ? `<li>${escapeHtml(`${d.rubrics[0]} and ${d.rubrics[1]} rank the cells alike${d.tau !== null ? ` (τ ${d.tau.toFixed(2)})` : ""}.`)}</li>`
      : `<li class="disagree">${escapeHtml(`${d.rubrics[0]} and ${d.rubrics[1]} disagree (τ ${d.tau?.toFixed(2) ?? "–"}): `)}${d.pairs
          .map((p) => {
            const [hi, lo] = p.first === "a" ? [p.a, p.b] : [p.b, p.a];
            return escapeHtml(`${d.rubrics[0]} ranks ${name.get(hi) ?? hi} above ${name.get(lo) ?? lo}, ${d.rubrics[1]} the other way`);
          })
          .join("; ")}</li>`,
  );
  return `<section id="rubrics"><h2>Rubrics</h2>${sortableTable("rubrics-table", headers, rows)}${notes.length ? `<ul>${notes.join("")}</ul>` : ""}</section>`;
}

/** Each priced cell's cost (run --cost, heldout cost), per passing task first, with its inputs. */
function costSection({ run }: RunReportInput): string {
  const priced = run.summary.cells.filter((c) => c.cost);
  if (priced.length === 0) return "";
  const money = (v: number | null, cur: string) => formatMoney(v, cur);
  const headers = [
    { label: "cell", text: true },
    { label: "per passing task", title: "the cell's total cost ÷ tasks passed; ∞ when nothing passed" },
    { label: "per 1M tokens" },
    { label: "per request" },
    { label: "total" },
    { label: "Wh per 1k tokens" },
    { label: "inputs", text: true },
  ];
  const rows = priced.map((c) => {
    const k = c.cost as NonNullable<typeof c.cost>;
    return {
      cells: [
        text(cellName(c)),
        num(k.nonePassed ? Number.MAX_VALUE : k.perPassingTask, k.nonePassed ? "∞ (nothing passed)" : money(k.perPassingTask, k.currency)),
        num(k.perMillionTokens, money(k.perMillionTokens, k.currency)),
        num(k.perRequest, money(k.perRequest, k.currency)),
        num(k.total, money(k.total, k.currency)),
        num(k.energyWhPer1kTokens, k.energyWhPer1kTokens === null ? "–" : k.energyWhPer1kTokens.toPrecision(3)),
        text(k.inputs, "wrap"),
      ],
    };
  });
  return `<section id="cost"><h2>Cost</h2>${sortableTable("cost-table", headers, rows)}<p class="note">Cost per passing task ranks by what a working output costs, not what a token costs.</p></section>`;
}

function modelsSection({ run, executions }: RunReportInput): string {
  const lastExec = new Map(executions.map((e) => [e.cellId, e]));
  const seen = new Set<string>();
  const rows: { cells: string[] }[] = [];
  for (const cell of run.manifest.cells ?? []) {
    const key = `${cell.modelId}\u0000${JSON.stringify(lastExec.get(cell.id)?.backend ?? null)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const backend = lastExec.get(cell.id)?.backend ?? {};
    rows.push({
      cells: [
        text(cell.modelId),
        text(cell.model?.path ?? cell.modelFile ?? ""),
        num(cell.model?.sizeBytes ?? null, formatBytes(cell.model?.sizeBytes ?? null)),
        text(cell.model?.sha256 ?? "", "text mono"),
        text(engineText(backend)),
      ],
    });
  }
  const headers = [{ label: "model", text: true }, { label: "file", text: true }, { label: "size" }, { label: "sha256", text: true }, { label: "engine", text: true }];
  return `<section id="models"><h2>Models</h2>${sortableTable("models-table", headers, rows)}</section>`;
}

function engineText(backend: Record<string, unknown>): string {
  const engine = (backend.engine ?? {}) as Record<string, unknown>;
  const runtime = (backend.runtime ?? {}) as Record<string, unknown>;
  const parts = [
    String(backend.kind ?? ""),
    engine.library ? `${String(engine.library)}` : "",
    engine.binary ? `binary ${String(engine.binary)}${engine.cpuVariant ? `/${String(engine.cpuVariant)}` : ""}` : "",
    engine.gpu ? `gpu ${String(engine.gpu)}` : "",
    runtime.threads !== undefined ? `threads ${String(runtime.threads)}` : "",
    backend.server ? `server ${String(backend.server)}` : "",
  ];
  return parts.filter(Boolean).join(", ");
}

/**
 * The browser's data: tasks in suite order with their records as compact tuples
 * [cell, sample, output, pass, score, reason, finish, latencyMs, prompt if it differs, error].
 */
export function browserData(input: RunReportInput): unknown {
  const { summary, records } = input.run;
  const cellIndex = new Map(summary.cells.map((c, i) => [c.cellId, i]));
  const byTask = groupBy(records, (r) => r.taskId);
  const tasks = [...byTask.entries()].map(([id, rs]) => {
    const first = rs[0] as RunRecord;
    return {
      id,
      area: first.area,
      prompt: first.prompt,
      expected: input.expected?.get(id) ?? null,
      r: rs.map((r) => [cellIndex.get(r.cellId) ?? -1, r.sample, r.output, r.score.pass ? 1 : 0, r.score.value, r.score.reason, r.finishReason, r.finishReason === "error" ? null : r.latencyMs, r.prompt === first.prompt ? null : r.prompt, r.error]),
    };
  });
  const areas = [...new Set(records.map((r) => r.area).filter((a): a is string => a !== null))].sort();
  const colorOf = modelColors(summary.cells);
  return { cells: summary.cells.map((c) => ({ id: c.cellId, name: cellName(c), color: colorOf(c.modelId) })), areas, tasks };
}

function tasksSection(input: RunReportInput): string {
  const note = input.expected === null ? `<p class="note">Expected answers are not shown: ${escapeHtml(input.expectedNote ?? "the suite is not at hand")}.</p>` : "";
  return `<section id="tasks"><h2>Tasks</h2><p class="note">Every task with each cell's output side by side. Failed outputs are shown as a character diff against the expected answer (<del>missing</del>, <ins>extra</ins>).</p>${note}<noscript><p class="note">The task browser needs JavaScript.</p></noscript><div id="task-browser"></div><script type="application/json" id="heldout-data">${jsonForScript(browserData(input))}</script></section>`;
}

function modelColors(cells: readonly CellSummary[]): (model: string) => string {
  const models = [...new Set(cells.map((c) => c.modelId))];
  return (model) => PALETTE[Math.max(0, models.indexOf(model)) % PALETTE.length] as string;
}

/** The cells that get a distribution curve: each model's best first, then plan order. */
function curveCells(cells: readonly CellSummary[]): CellSummary[] {
  if (cells.length <= MAX_CURVES) return [...cells];
  const byModel = groupBy(cells, (c) => c.modelId);
  const best = [...byModel.values()].map((cs) => cs.reduce((a, b) => ((b.passRate ?? -1) > (a.passRate ?? -1) ? b : a)));
  const rest = cells.filter((c) => !best.includes(c));
  return [...best, ...rest].slice(0, MAX_CURVES);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}
