import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { copySuite, heldout, readJsonl, tempDir } from "./helpers/cli.js";

/**
 * The HTML report, opened in a real headless Chromium (Debian's, or HELDOUT_CHROMIUM): plots and
 * tables render without a console error, sorting and the task browser's filters work, and model
 * output carrying script, markup and a 1 MB line shows as text and runs nothing.
 */

const CHROMIUM = process.env.HELDOUT_CHROMIUM ?? "/usr/bin/chromium";
const out = tempDir("heldout-report-");

// 15 tasks per area of the demo suite, on a weak and a strong checkpoint.
const suite = copySuite("arith");
const lines = readFileSync(join(suite, "tasks.jsonl"), "utf8").trim().split("\n");
const perArea = new Map<string, number>();
writeFileSync(
  join(suite, "tasks.jsonl"),
  `${lines
    .filter((l) => {
      const area = (JSON.parse(l) as { area: string }).area;
      perArea.set(area, (perArea.get(area) ?? 0) + 1);
      return (perArea.get(area) ?? 0) <= 15;
    })
    .join("\n")}\n`,
);
const run = heldout(["run", "--suite", suite, "--allow-unfrozen", "--model", "models/arith-step300.yaml", "--model", "models/arith-step1500.yaml", "--out", out, "--run-id", "two", "-q"]);
const runDir = join(out, "two");

// Untrusted text planted where a model's output and a task's prompt go.
const PAYLOADS = {
  script: "<script>window.__pwned = 1</script>",
  breakout: '</textarea></pre></script><script>window.__pwned = 2</script><img src=x onerror="window.__pwned = 3"><!--',
  link: '<a href="javascript:window.__pwned=4">click me</a> javascript:window.__pwned=5',
  prompt: "<!-- </script><svg onload=\"window.__pwned = 6\"> 1+1=",
};
const HUGE = `${"0123456789".repeat(100_000)}`;

function plant(): { planted: Record<string, string> } {
  const file = join(runDir, "records.jsonl");
  const records = readJsonl<RunRecord>(file);
  const planted: Record<string, string> = {};
  const targets: [keyof typeof PAYLOADS | "huge", number][] = [["script", 0], ["breakout", 1], ["link", 2], ["huge", 3]];
  for (const [name, i] of targets) {
    const r = records[i] as RunRecord;
    r.output = name === "huge" ? HUGE : PAYLOADS[name];
    planted[name] = r.taskId;
  }
  // The prompt shown for a task comes from its first record.
  const first = records[4] as RunRecord;
  for (const r of records) if (r.taskId === first.taskId) r.prompt = PAYLOADS.prompt;
  planted.prompt = first.taskId;
  writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return { planted };
}

let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
let planted: Record<string, string> = {};

async function openReport(file: string, ready = "#task-browser[data-ready=true]"): Promise<void> {
  consoleErrors.length = 0;
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector(ready, { timeout: 30_000 });
}

beforeAll(async () => {
  expect(run.code, run.stderr).toBe(0);
  if (!existsSync(CHROMIUM)) throw new Error(`these tests need Chromium at ${CHROMIUM}: apt-get install chromium, or set HELDOUT_CHROMIUM`);
  ({ planted } = plant());
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

const visibleTaskIds = () => page.$$eval("#task-list article.task", (els) => els.map((e) => e.getAttribute("data-task")));
const countText = () => page.textContent("#task-count");

describe("heldout report (in headless Chromium)", () => {
  it("a run writes report.html into its folder, and `heldout report` rewrites it", async () => {
    expect(existsSync(join(runDir, "report.html"))).toBe(true);
    const r = heldout(["report", "two", "--results", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(runDir, "report.html"));
    const html = readFileSync(join(runDir, "report.html"), "utf8");
    expect(html).not.toMatch(/<(link|img|iframe)\b|https?:\/\/(?!www\.w3\.org\/2000\/svg)/); // nothing to fetch
    await openReport(join(runDir, "report.html"));
    expect(consoleErrors).toEqual([]);
  });

  it("shows the header, the summary table with intervals and the best cell, and sorts it", async () => {
    const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")) as Summary;
    const header = await page.textContent("header");
    expect(header).toContain(summary.suite.hash);
    expect(header).toContain("node-llama-cpp");
    const rows = () => page.$$eval("#summary-table tbody tr", (trs) => trs.map((tr) => (tr.querySelector("td")?.textContent ?? "").trim()));
    expect(await rows()).toEqual(["arith-step300", "arith-step1500"]);
    expect(await page.textContent("#summary-table tbody tr:nth-child(1)")).toMatch(/0\.\d{3}–0\.\d{3}/);
    const pass = page.locator("#summary-table th", { hasText: /^pass$/ });
    await pass.click(); // first click: highest first
    expect(await rows()).toEqual(["arith-step1500", "arith-step300"]);
    await pass.click();
    expect(await rows()).toEqual(["arith-step300", "arith-step1500"]);
    const models = await page.textContent("#models-table");
    for (const c of summary.cells) expect(models).toContain(c.modelId);
  });

  it("draws the accuracy-speed plot with both cells and a frontier, the latency and TTFT CDFs and the area heat map", async () => {
    expect(await page.locator('svg[data-plot="accuracy-speed"] g.point').count()).toBe(2);
    expect(await page.locator('svg[data-plot="accuracy-speed"] g.point line.err').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('svg[data-plot="latency-cdf"] g.series').count()).toBe(2);
    expect(await page.locator('svg[data-plot="latency-cdf"] g.mark').count()).toBe(6); // P50, P95, P99 × 2
    expect(await page.locator('svg[data-plot="ttft-cdf"] g.series').count()).toBe(2);
    expect(await page.locator('svg[data-plot="area-heatmap"] g.hcell').count()).toBe(2 * 5);
    const box = await page.locator('svg[data-plot="accuracy-speed"]').boundingBox();
    expect(box?.width).toBeGreaterThan(300);
    expect(await page.textContent("#comparisons")).toMatch(/arith-step1500@\w+ is better by/);
  });

  it("filters the task browser by area, failure, disagreement and search, and pages through it", async () => {
    const records = readJsonl<RunRecord>(join(runDir, "records.jsonl"));
    const tasks = new Set(records.map((r) => r.taskId));
    expect(await countText()).toBe(`${tasks.size} of ${tasks.size} tasks`);
    expect((await visibleTaskIds()).length).toBe(20);
    await page.click("#task-next");
    expect(await page.textContent("#task-page")).toBe(`page 2 of ${Math.ceil(tasks.size / 20)}`);

    await page.selectOption("#task-area", "sub");
    expect(await countText()).toBe(`15 of ${tasks.size} tasks`);
    const areas = await page.$$eval("#task-list article.task .badge.area", (els) => els.map((e) => e.textContent));
    expect(areas.length).toBe(15);
    expect(new Set(areas)).toEqual(new Set(["sub"]));
    await page.selectOption("#task-area", "");

    const failedAny = new Set(records.filter((r) => !r.score.pass).map((r) => r.taskId));
    await page.selectOption("#task-filter", "failed-any");
    expect(await countText()).toBe(`${failedAny.size} of ${tasks.size} tasks`);
    const byTask = (id: string) => records.filter((r) => r.taskId === id);
    const disagree = [...tasks].filter((id) => new Set(byTask(id).map((r) => r.score.pass)).size > 1);
    await page.selectOption("#task-filter", "disagree");
    expect(await countText()).toBe(`${disagree.length} of ${tasks.size} tasks`);
    expect(disagree.length).toBeGreaterThan(0); // step300 fails much of add and sub; step1500 does not
    await page.selectOption("#task-filter", "all");

    await page.fill("#task-search", planted.script as string);
    await page.waitForFunction((id) => document.querySelectorAll("#task-list article.task").length >= 1 && document.querySelector("#task-list article.task")?.getAttribute("data-task") === id, planted.script);
    expect(await visibleTaskIds()).toContain(planted.script);
    await page.fill("#task-search", "");
  });

  it("shows failed outputs as a diff against the expected answer", async () => {
    await page.selectOption("#task-filter", "failed-any");
    const diffs = page.locator("#task-list pre.diff");
    expect(await diffs.count()).toBeGreaterThan(0);
    expect(await page.locator("#task-list pre.diff ins, #task-list pre.diff del").count()).toBeGreaterThan(0);
    await page.selectOption("#task-filter", "all");
  });

  it("renders planted script, markup and javascript: URLs as text and runs none of them", async () => {
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    for (const name of ["script", "breakout", "link", "prompt"] as const) {
      await page.fill("#task-search", planted[name] as string);
      await page.waitForFunction((id) => document.querySelector("#task-list article.task")?.getAttribute("data-task") === id, planted[name]);
      const text = await page.textContent(`#task-list article.task[data-task="${planted[name]}"]`);
      expect(text).toContain(PAYLOADS[name]);
    }
    expect(await page.locator("#task-list a, #task-list img, #task-list svg, body > script").count()).toBe(1); // only the report's own script
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(consoleErrors).toEqual([]);
  });

  it("shows a 1 MB output cut short with a button that shows all of it", async () => {
    await page.fill("#task-search", planted.huge as string);
    await page.waitForFunction((id) => document.querySelector("#task-list article.task")?.getAttribute("data-task") === id, planted.huge);
    const card = page.locator(`#task-list article.task[data-task="${planted.huge}"]`);
    const more = card.locator("button.more");
    expect(await more.textContent()).toBe("show all (1,000,000 characters)");
    await more.click();
    const longest = await card.locator("pre").evaluateAll((els) => Math.max(...els.map((e) => e.textContent?.length ?? 0)));
    expect(longest).toBe(1_000_000);
    await page.fill("#task-search", "");
  });
});

describe("a sampling sweep's report", () => {
  it("maps pass rate over temperature × top-p", async () => {
    const profile = join(tempDir(), "sweep.yaml");
    writeFileSync(profile, "name: t-by-p\nsampling:\n  temperature: [0.5, 1.5]\n  topP: [1, 0.5]\n  topK: 0\n  minP: 0\n  repeatPenalty: 1\n  seed: 3\nsamples: 1\nparallel: 2\n");
    const r = heldout(["run", "--suite", suite, "--allow-unfrozen", "--model", "models/arith-step300.yaml", "--profile", profile, "--out", out, "--run-id", "sweep", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    await openReport(join(out, "sweep", "report.html"));
    expect(consoleErrors).toEqual([]);
    const map = page.locator('svg[data-plot="sampling-heatmap"]');
    expect(await map.count()).toBe(1);
    expect(await map.locator("g.hcell").count()).toBe(4);
    expect(await map.textContent()).toMatch(/temperature/);
    expect(await page.locator('svg[data-plot="accuracy-speed"] g.point').count()).toBe(4);
  });
});

describe("a throughput profile's report", () => {
  it("draws tokens/s against parallel sequences for each test", async () => {
    const r = heldout(["profile", "--model", "models/stories260k.yaml", "--pp", "32", "--tg", "16", "--threads", "1", "--parallel", "1,2,4", "--reps", "1", "--warmup", "1", "--out", out, "--run-id", "prof"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`report:  ${join(out, "prof", "report.html")}`);
    await openReport(join(out, "prof", "report.html"), "#profile-table");
    expect(consoleErrors).toEqual([]);
    expect(await page.locator("#profile-table tbody tr").count()).toBe(6); // (pp32, tg16) × P = 1, 2, 4
    const plot = page.locator('svg[data-plot="scaling-parallel"]');
    expect(await plot.count()).toBe(2); // one per test
    const points = await plot.first().locator("polyline.line").getAttribute("points");
    expect(points?.trim().split(/\s+/)).toHaveLength(3);
  });
});
