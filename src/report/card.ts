import { basename } from "node:path";
import { canonicalJson, sha256Hex } from "../core/canonical.js";
import { buildTree, inclusionProof, verifyProof, type InclusionProof } from "../core/merkle.js";
import { NO_AREA, type BaselineComparison, type CellSummary, type Summary } from "../core/summary.js";
import { taskContent, taskHash } from "../core/suite.js";
import type { Suite, Task } from "../core/types.js";
import type { RunManifest } from "../runner/run.js";
import type { Fingerprint } from "../system/fingerprint.js";
import { escapeHtml } from "./html/escape.js";

/**
 * A result card: a run's comparison published without its tasks (issue 19). Pure.
 *
 * It commits to the suite by its hash, task count, per-area counts and a Merkle root over the tasks'
 * content hashes (core/merkle.ts), so anyone holding the suite can check the card, and a task
 * revealed later (with its inclusion proof) can be proven part of it. It never holds a prompt, an
 * expected answer or an output. What is left out of the run's files, and why:
 * - the suite definition (its prompt template) and the tasks: only hashes and counts;
 * - records (outputs): only the summary's figures;
 * - a cell's prompt variant `template` and `system` text: replaced by their sha256 (few-shot
 *   examples are suite tasks: only their count is kept);
 * - a cell summary's `error` text (an engine message can quote an output): replaced by "withheld";
 * - `consistency.leastStable` (names of the tasks a cell got wrong sometimes): dropped;
 * - the manifest's command line, inputs and local file paths: dropped (a model is its file name,
 *   sha256 and size).
 * JSON is the source of truth; Markdown and SVG are views of it.
 */

export const CARD_KIND = "heldout-result-card";
export const MERKLE_SCHEME = "sha256; leaves = task content hashes in task-id order; leaf = H(0x00 || taskHash), node = H(0x01 || left || right); an odd last node is promoted";

export interface CardPrompt {
  name: string;
  templateSha256: string | null;
  systemSha256: string | null;
  fewShot: number;
  answerSeparator: string;
  exampleSeparator: string;
}

export type CardFigures = Omit<CellSummary, "error"> & { error: "withheld" | null };

export interface CardCell {
  cellId: string;
  modelId: string;
  modelSha256: string;
  label: Record<string, string>;
  settings: Record<string, unknown> & { prompt: CardPrompt };
  runtime: Record<string, unknown>;
  maxTokens: number;
  /** The run's summary of this cell, less any text (see above). */
  figures: CardFigures | null;
}

export interface CardModel {
  modelId: string;
  file: string;
  sha256: string;
  sizeBytes: number;
}

export interface RevealedTask {
  /** The task's content as hashed (core/suite.ts taskContent): id, vars, expected, area, tags, scorer. */
  task: Record<string, unknown>;
  /** sha256 of its canonical JSON: the Merkle leaf's input. */
  hash: string;
  proof: InclusionProof;
}

export interface SuiteCommitment {
  name: string;
  hash: string;
  tasks: number;
  /** Tasks per area over the whole suite ("(none)" for tasks without one). */
  areas: Record<string, number>;
  merkle: { scheme: string; root: string; leaves: number };
}

export interface ResultCard {
  kind: typeof CARD_KIND;
  cardVersion: 1;
  heldout: string;
  run: { runId: string; createdAt: string; tasksRun: number; frozen: boolean };
  suite: SuiteCommitment;
  models: CardModel[];
  cells: CardCell[];
  comparisons: BaselineComparison[];
  warnings: string[];
  subjective?: Summary["subjective"];
  rubricDisagreements?: Summary["rubricDisagreements"];
  system: Fingerprint;
  reveal: RevealedTask[];
}

export interface CardRun {
  manifest: RunManifest;
  summary: Summary;
}

const hashOrNull = (text: string | null | undefined) => (text === null || text === undefined ? null : sha256Hex(text));

/** Hash, count, areas and Merkle root of a suite: what a card commits to. */
export function suiteCommitment(suite: Suite): SuiteCommitment {
  const areas: Record<string, number> = {};
  for (const t of suite.tasks) areas[t.area ?? NO_AREA] = (areas[t.area ?? NO_AREA] ?? 0) + 1;
  const tree = buildTree(suite.tasks.map((t) => ({ id: t.id, hash: taskHash(t) })));
  return { name: suite.name, hash: suite.hash, tasks: suite.tasks.length, areas: sortedRecord(areas), merkle: { scheme: MERKLE_SCHEME, root: tree.root, leaves: tree.ids.length } };
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function cardFigures(cell: CellSummary): CardFigures {
  const { error, consistency, ...rest } = cell;
  return {
    ...rest,
    consistency: consistency ? { ...consistency, leastStable: [] } : consistency,
    error: error === null ? null : "withheld",
  };
}

/** The full content of these tasks with their inclusion proofs; throws naming an id the suite lacks. */
export function revealTasks(suite: Suite, ids: readonly string[]): RevealedTask[] {
  const tree = buildTree(suite.tasks.map((t) => ({ id: t.id, hash: taskHash(t) })));
  const byId = new Map<string, Task>(suite.tasks.map((t) => [t.id, t]));
  return ids.map((id) => {
    const task = byId.get(id);
    const proof = inclusionProof(tree, id);
    if (!task || !proof) throw new Error(`no task "${id}" in suite ${suite.name}`);
    const content = JSON.parse(canonicalJson(taskContent(task))) as Record<string, unknown>;
    return { task: content, hash: taskHash(task), proof };
  });
}

export function buildCard(run: CardRun, suite: Suite, options: { heldoutVersion: string; reveal?: readonly string[] }): ResultCard {
  const { manifest, summary } = run;
  if (suite.hash !== manifest.suite.hash) {
    throw new Error(`the suite's hash (${suite.hash.slice(0, 12)}) is not the run's (${manifest.suite.hash.slice(0, 12)}): the suite changed since the run`);
  }
  const models = new Map<string, CardModel>();
  for (const c of manifest.cells) {
    const key = `${c.modelId}\u0000${c.model.sha256}`;
    if (!models.has(key)) models.set(key, { modelId: c.modelId, file: c.model.path ? basename(c.model.path) : basename(c.model.source), sha256: c.model.sha256, sizeBytes: c.model.sizeBytes });
  }
  const figures = new Map(summary.cells.map((c) => [c.cellId, c]));
  const cells: CardCell[] = manifest.cells.map((c) => {
    const { prompt, ...settings } = c.settings;
    const summaryCell = figures.get(c.id);
    return {
      cellId: c.id,
      modelId: c.modelId,
      modelSha256: c.modelSha256,
      label: c.label,
      settings: {
        ...(JSON.parse(canonicalJson(settings)) as Record<string, unknown>),
        prompt: {
          name: prompt.name,
          templateSha256: hashOrNull(prompt.template),
          systemSha256: hashOrNull(prompt.system),
          fewShot: prompt.fewShot,
          answerSeparator: prompt.answerSeparator,
          exampleSeparator: prompt.exampleSeparator,
        },
      },
      runtime: JSON.parse(canonicalJson(c.runtime)) as Record<string, unknown>,
      maxTokens: c.maxTokens,
      figures: summaryCell ? cardFigures(summaryCell) : null,
    };
  });
  return {
    kind: CARD_KIND,
    cardVersion: 1,
    heldout: options.heldoutVersion,
    run: { runId: manifest.runId, createdAt: manifest.createdAt, tasksRun: manifest.suite.tasks, frozen: manifest.suite.frozen },
    suite: suiteCommitment(suite),
    models: [...models.values()],
    cells,
    comparisons: summary.comparisons,
    warnings: summary.warnings ?? [],
    ...(summary.subjective ? { subjective: summary.subjective } : {}),
    ...(summary.rubricDisagreements ? { rubricDisagreements: summary.rubricDisagreements } : {}),
    system: manifest.system,
    reveal: revealTasks(suite, options.reveal ?? []),
  };
}

// ---------------------------------------------------------------------------------------------
// Verification

export interface CardCheck {
  ok: boolean;
  /** One line per difference or failed proof; empty when all hold. */
  problems: string[];
  /** One line per check that held. */
  passed: string[];
}

/** Checks the card's commitment against a suite one holds (when given) and every revealed task's proof. */
export function verifyCard(card: ResultCard, suite?: Suite): CardCheck {
  const problems: string[] = [];
  const passed: string[] = [];
  if (card.kind !== CARD_KIND) problems.push(`not a heldout result card (kind ${String(card.kind)})`);
  if (suite) {
    const now = suiteCommitment(suite);
    const cmp = (what: string, a: unknown, b: unknown) => {
      if (canonicalJson(a) === canonicalJson(b)) passed.push(`${what} matches`);
      else problems.push(`${what} differs: card ${canonicalJson(a)}, suite ${canonicalJson(b)}`);
    };
    cmp("Merkle root", card.suite.merkle.root, now.merkle.root);
    cmp("suite hash", card.suite.hash, now.hash);
    cmp("task count", card.suite.tasks, now.tasks);
    cmp("per-area counts", card.suite.areas, now.areas);
    if (card.suite.name !== now.name) problems.push(`suite name differs: card "${card.suite.name}", suite "${now.name}"`);
  }
  for (const r of card.reveal ?? []) {
    const id = typeof r.task?.id === "string" ? r.task.id : "(no id)";
    const hash = sha256Hex(canonicalJson(r.task));
    if (hash !== r.hash) problems.push(`revealed task ${id}: its content hashes to ${hash.slice(0, 12)}, not the card's ${String(r.hash).slice(0, 12)} (the task was edited)`);
    else if (r.proof?.id !== id) problems.push(`revealed task ${id}: its proof is for "${String(r.proof?.id)}"`);
    else if (!verifyProof(hash, r.proof, card.suite.merkle.root)) problems.push(`revealed task ${id}: its inclusion proof does not lead to the card's Merkle root`);
    else passed.push(`revealed task ${id}: proof verifies`);
  }
  return { ok: problems.length === 0, problems, passed };
}

// ---------------------------------------------------------------------------------------------
// Formats

export function cardJson(card: ResultCard): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(card)), null, 2)}\n`;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
const num = (v: number | null | undefined, digits = 0) => (v === null || v === undefined ? "–" : v.toFixed(digits));
const mib = (v: number | null | undefined) => (v === null || v === undefined ? "–" : `${(v / 2 ** 20).toFixed(0)} MiB`);
const fmtP = (p: number) => (p < 0.001 ? "< 0.001" : p.toFixed(3));
const md = (s: string) => s.replace(/[\\|`*_<>[\]]/g, (c) => `\\${c}`).replace(/\n/g, " ");

function interval(f: CardFigures | null): string {
  if (!f) return "–";
  const i = f.passRateInterval;
  return `${pct(f.passRate)}${i ? ` [${pct(i.low)}, ${pct(i.high)}]` : ""}`;
}

export function cardMarkdown(card: ResultCard): string {
  const lines: string[] = [];
  const s = card.suite;
  lines.push(`## heldout result card: ${md(card.run.runId)}`, "");
  lines.push(`Suite **${md(s.name)}**, ${s.tasks} tasks (${Object.entries(s.areas).map(([a, n]) => `${md(a)} ${n}`).join(", ")}), hash \`${s.hash}\`.`);
  lines.push(`Merkle root \`${s.merkle.root}\` over ${s.merkle.leaves} task hashes (${s.merkle.scheme}).`, "");
  lines.push("| cell | model | pass rate [95% CI] | latency p50 / p95 ms | gen tok/s | peak RSS | failures |", "|---|---|---|---|---|---|---|");
  for (const c of card.cells) {
    const f = c.figures;
    lines.push(
      `| ${md(c.cellId)} | ${md(c.modelId)} \`${c.modelSha256.slice(0, 12)}\` | ${interval(f)} | ${num(f?.latencyMs.p50)} / ${num(f?.latencyMs.p95)} | ${num(f?.generationTokensPerSecond.median, 1)} | ${mib(f?.peakRssBytes)} | ${f ? f.failures.total : "–"} |`,
    );
  }
  const areaNames = [...new Set(card.cells.flatMap((c) => c.figures?.areas.map((a) => a.area) ?? []))].sort();
  if (areaNames.length > 1) {
    lines.push("", `| cell | ${areaNames.map(md).join(" | ")} |`, `|---|${areaNames.map(() => "---|").join("")}`);
    for (const c of card.cells) {
      const cellsText = areaNames.map((a) => {
        const x = c.figures?.areas.find((y) => y.area === a);
        return x ? `${pct(x.passRate)}${x.passRateInterval ? ` [${pct(x.passRateInterval.low)}, ${pct(x.passRateInterval.high)}]` : ""}` : "–";
      });
      lines.push(`| ${md(c.cellId)} | ${cellsText.join(" | ")} |`);
    }
  }
  if (card.comparisons.length) {
    lines.push("", "**Paired verdicts** (against the first cell):", "");
    for (const v of card.comparisons) {
      lines.push(`- ${md(v.candidate)} vs ${md(v.baseline)}: ${pct(v.difference)} [${pct(v.low)}, ${pct(v.high)}], p = ${fmtP(v.pAdjusted ?? v.pValue)} — ${md(v.verdict)}`);
    }
  }
  lines.push("", "**Models**:", "");
  for (const m of card.models) lines.push(`- ${md(m.modelId)}: ${md(m.file)}, ${m.sizeBytes} bytes, sha256 \`${m.sha256}\``);
  const sys = card.system;
  lines.push(
    "",
    `**Hardware**: ${md(sys.cpu.brand)} (${sys.cpu.cores} cores), ${mib(sys.memory.totalBytes)} RAM${sys.gpus.length ? `, ${sys.gpus.map((g) => md(`${g.vendor} ${g.model}`)).join(", ")}` : ""}. ` +
      `**Software**: heldout ${md(card.heldout)}, Node ${md(sys.software.node)}, node-llama-cpp ${md(sys.software.nodeLlamaCpp)}, ${md(`${sys.os.distro} ${sys.os.release} ${sys.os.arch}`)}.`,
  );
  if (card.reveal.length) lines.push("", `Revealed tasks (with inclusion proofs in the JSON card): ${card.reveal.map((r) => md(String(r.proof.id))).join(", ")}.`);
  lines.push("", "No prompt, expected answer or output is part of this card; check it against a suite with `heldout card verify card.json --suite <dir>`.", "");
  return lines.join("\n");
}


export function cardSvg(card: ResultCard): string {
  const rowH = 22;
  const width = 640;
  const height = 70 + rowH * card.cells.length + 10;
  const rows = card.cells.map((c, i) => {
    const y = 78 + i * rowH;
    const f = c.figures;
    const rate = f?.passRate ?? 0;
    const barW = Math.round(200 * rate);
    const label = c.cellId.length > 40 ? `${c.cellId.slice(0, 39)}…` : c.cellId;
    return [
      `<text x="12" y="${y}" class="t">${escapeHtml(label)}</text>`,
      `<rect x="330" y="${y - 12}" width="200" height="14" fill="#e5e7eb"/>`,
      `<rect x="330" y="${y - 12}" width="${barW}" height="14" fill="#2563eb"/>`,
      `<text x="540" y="${y}" class="t">${escapeHtml(interval(f))}</text>`,
    ].join("");
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(`heldout result card: ${card.suite.name}`)}">`,
    `<style>.t{font:12px monospace;fill:#111}.h{font:bold 14px sans-serif;fill:#111}</style>`,
    `<rect width="${width}" height="${height}" fill="#fff" stroke="#d1d5db"/>`,
    `<text x="12" y="22" class="h">${escapeHtml(`heldout · ${card.suite.name} · ${card.suite.tasks} tasks · run ${card.run.runId}`)}</text>`,
    `<text x="12" y="42" class="t">${escapeHtml(`suite ${card.suite.hash.slice(0, 16)} · merkle root ${card.suite.merkle.root.slice(0, 16)}`)}</text>`,
    `<text x="330" y="60" class="t">pass rate [95% CI]</text>`,
    ...rows,
    `</svg>`,
    "",
  ].join("\n");
}

export type CardFormat = "json" | "md" | "svg";

export function cardFormatOf(file: string): CardFormat | undefined {
  const ext = file.toLowerCase().split(".").pop();
  return ext === "json" ? "json" : ext === "md" || ext === "markdown" ? "md" : ext === "svg" ? "svg" : undefined;
}

export function renderCard(card: ResultCard, format: CardFormat): string {
  return format === "json" ? cardJson(card) : format === "md" ? cardMarkdown(card) : cardSvg(card);
}
