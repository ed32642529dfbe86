#!/usr/bin/env node
// How the HTML report copes with a large run: writes a synthetic run folder of 100,000 records
// (10 cells × 10,000 tasks in 5 areas, outputs of realistic length; summary.json from the real
// summarize()), then times `heldout report` on it and opening it in headless Chromium: until the
// task browser is ready, one filter change and one search over every output.
//   npm run build && node bench/report-large.mjs [cells=10] [tasks=10000]
// Target (issue 14): the report builds in under 5 s and the page stays responsive.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { summarize } from "../dist/core/summary.js";
import { createRng } from "../dist/stats/random.js";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const [cellCount = 10, taskCount = 10_000] = process.argv.slice(2).map(Number);
const dir = join(mkdtempSync(join(tmpdir(), "heldout-report-large-")), "large");
mkdirSync(dir, { recursive: true });
const rng = createRng(1);
const areas = ["code", "extract", "math", "qa", "summarize"];
const words = "the a model answer returns value list item because first then which output table number".split(" ");
const text = (n) => Array.from({ length: n }, () => words[Math.floor(rng() * words.length)]).join(" ");
const cells = Array.from({ length: cellCount }, (_, i) => ({ cellId: `model-${i}@${(1e11 + i).toString(16)}`, modelId: `model-${i}`, label: {}, samples: 1 }));
const records = [];
for (const [ci, cell] of cells.entries()) {
  for (let t = 0; t < taskCount; t++) {
    const pass = rng() < 0.5 + ci / (2 * cellCount);
    const latency = 200 + rng() * 800 + (rng() < 0.02 ? 4000 : 0);
    records.push({
      runId: "large", cellId: cell.cellId, modelId: cell.modelId, suiteHash: "0".repeat(64), taskId: `task-${String(t).padStart(5, "0")}`,
      area: areas[t % areas.length], sample: 0, prompt: `Question ${t}: ${text(30)}`, promptTokenIds: [], output: text(20 + Math.floor(rng() * 60)),
      promptTokens: 40, completionTokens: 60, finishReason: "eos", ttftMs: 20 + rng() * 30, latencyMs: latency, promptTokensPerSecond: 2000 + rng() * 100,
      generationTokensPerSecond: 60 + ci * 5 + rng() * 10, score: { pass, value: pass ? 1 : 0, reason: pass ? "exact match" : "expected something else" },
      error: null, errorKind: null, endpoint: null, attempts: 1, serverTimings: null,
    });
  }
}
const executions = cells.map((c) => ({ cellId: c.cellId, modelId: c.modelId, loadMs: 100, generationWallMs: 1e6, generations: taskCount, completionTokens: 60 * taskCount, peakRssBytes: 1e9, peakVramBytes: null, backend: {}, error: null }));
writeFileSync(join(dir, "records.jsonl"), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
writeFileSync(join(dir, "cells.jsonl"), executions.map((e) => `${JSON.stringify(e)}\n`).join(""));
const suite = { name: "large", hash: "0".repeat(64), tasks: taskCount };
writeFileSync(join(dir, "summary.json"), JSON.stringify(summarize({ runId: "large", suite }, cells, records, executions)));
writeFileSync(join(dir, "manifest.json"), JSON.stringify({ schemaVersion: 1, runId: "large", createdAt: new Date().toISOString(), command: ["bench/report-large.mjs"], suite: { ...suite, dir: "(synthetic)", frozen: true, unfrozenReason: null }, cells: [] }));
console.log(`synthetic run: ${records.length.toLocaleString()} records (${cellCount} cells × ${taskCount.toLocaleString()} tasks), records.jsonl ${(statSync(join(dir, "records.jsonl")).size / 2 ** 20).toFixed(1)} MiB`);

const t0 = performance.now();
const r = spawnSync(process.execPath, [join(root, "bin/heldout.js"), "report", dir], { encoding: "utf8" });
if (r.status !== 0) throw new Error(r.stderr);
const buildMs = performance.now() - t0;
const file = r.stdout.trim();
console.log(`heldout report: ${(buildMs / 1000).toFixed(2)} s (whole command: start, read, build, write); report.html ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB`);

const browser = await chromium.launch({ executablePath: process.env.HELDOUT_CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const errors = [];
page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
page.on("pageerror", (e) => errors.push(String(e)));
const t1 = performance.now();
await page.goto(pathToFileURL(file).href);
await page.waitForSelector("#task-browser[data-ready=true]", { timeout: 120_000 });
const openMs = performance.now() - t1;
const countIs = (prefix) => page.waitForFunction((p) => document.querySelector("#task-count").textContent.startsWith(p), prefix, { timeout: 60_000 });
let s = performance.now();
await page.selectOption("#task-filter", "disagree");
await page.waitForFunction(() => !document.querySelector("#task-count").textContent.startsWith("10,000 of"), undefined, { timeout: 60_000 });
const filterMs = performance.now() - s;
await page.selectOption("#task-filter", "all");
s = performance.now();
await page.fill("#task-search", "task-09999");
await countIs("1 of");
const searchMs = performance.now() - s;
await page.fill("#task-search", "");
await countIs(`${taskCount.toLocaleString("en-US")} of`);
s = performance.now();
await page.click("#task-next");
await page.waitForFunction(() => document.querySelector("#task-page").textContent.startsWith("page 2 "), undefined, { timeout: 60_000 });
const pageMs = performance.now() - s;
await browser.close();
console.log(`chromium: page loaded and task browser ready ${(openMs / 1000).toFixed(2)} s; filter change ${filterMs.toFixed(0)} ms; search over all outputs ${searchMs.toFixed(0)} ms (includes a 150 ms typing debounce); next page ${pageMs.toFixed(0)} ms; console errors: ${errors.length ? errors.join(" | ") : "none"}`);
console.log(`target: build < 5 s: ${buildMs < 5000 ? "met" : "MISSED"}`);
