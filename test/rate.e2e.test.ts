import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { effectiveRatings, subjectiveQuality, type PairwiseRating, type RatingLine, type ScoreRating } from "../src/core/subjective.js";
import type { Summary } from "../src/core/summary.js";
import { readRatings } from "../src/store/ratings.js";
import { cohensKappa } from "../src/stats/kappa.js";
import { heldout, readJsonl, ROOT, tempDir } from "./helpers/cli.js";

/**
 * `heldout rate`: the blind rating page, served by the real CLI and driven by keyboard in headless
 * Chromium (Debian's, or HELDOUT_CHROMIUM): the token is required, no model or cell name reaches
 * the page, ratings are appended to ratings.jsonl, a restart carries on where the rater stopped,
 * pairwise mode works, and two raters' agreement comes out of subjectiveQuality.
 */

const CHROMIUM = process.env.HELDOUT_CHROMIUM ?? "/usr/bin/chromium";
const out = tempDir("heldout-rate-");
const profile = join(out, "two-temps.yaml");
writeFileSync(profile, "name: two-temps\nsampling:\n  temperature: [0, 0.8]\n  seed: 3\n");
const run = heldout(["run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--profile", profile, "--out", out, "--run-id", "r", "-q"]);
const runDir = join(out, "r");
const ratingsFile = join(runDir, "ratings.jsonl");

interface Served {
  proc: ChildProcess;
  url: string;
  stdout: () => string;
  exit: Promise<number | null>;
}

/** Starts `heldout rate r ...` and resolves once it prints its URL. */
function serve(args: string[]): Promise<Served> {
  const proc = spawn(process.execPath, [join(ROOT, "bin/heldout.js"), "rate", "r", "--results", out, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" } });
  let stdout = "";
  let stderr = "";
  const exit = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL after 30 s:\n${stdout}\n${stderr}`)), 30_000);
    proc.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[0], stdout: () => stdout, exit });
      }
    });
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`heldout rate exited (${code}) before serving:\n${stdout}\n${stderr}`));
    });
  });
}

async function stop(s: Served): Promise<void> {
  s.proc.kill("SIGINT");
  expect(await s.exit).toBe(0);
  expect(s.stdout()).toMatch(/stopped; \S+ has rated \d+ of \d+ items/);
}

let browser: Browser;
let page: Page;
let summary: Summary;
const pageErrors: string[] = [];
/** Every API answer the page received, to check that none carries a model or cell name. */
const apiBodies: string[] = [];
const running: Served[] = [];

async function open(url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector("#app[data-ready=true][data-busy=false]", { timeout: 30_000 });
}

/** Presses a key and waits for the server's answer to be rendered. */
async function press(key: string): Promise<void> {
  await page.keyboard.press(key);
  await page.waitForSelector("#app[data-busy=false]", { timeout: 30_000 });
}

const progress = async () => ((await page.textContent("#progress")) ?? "").trim();
const currentItem = () => page.getAttribute("#app", "data-item");

function lines(): RatingLine[] {
  return readRatings(runDir).lines;
}

function expectBlind(text: string): void {
  expect(text).not.toContain("stories260k");
  expect(text).not.toMatch(/temperature/i);
  for (const c of summary.cells) {
    expect(text).not.toContain(c.cellId);
    expect(text).not.toContain(c.cellId.split("@")[1] as string);
  }
  // Nor the stable item ids written to ratings.jsonl.
  for (const l of existsSync(ratingsFile) ? lines() : []) expect(text).not.toContain(l.item);
}

beforeAll(async () => {
  expect(run.code, run.stderr).toBe(0);
  summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")) as Summary;
  expect(summary.cells).toHaveLength(2);
  if (!existsSync(CHROMIUM)) throw new Error(`these tests need Chromium at ${CHROMIUM}: apt-get install chromium, or set HELDOUT_CHROMIUM`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
  page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("response", (r) => {
    if (new URL(r.url()).pathname.startsWith("/api/")) void r.text().then((t) => apiBodies.push(t), () => undefined);
  });
}, 120_000);

afterAll(async () => {
  for (const s of running) if (s.proc.exitCode === null) s.proc.kill("SIGKILL");
  await browser?.close();
});

describe("heldout rate (blind rating in headless Chromium)", () => {
  let alice: Served;
  const firstSession: ScoreRating[] = [];

  it("asks for a rater, and refuses every request without the token (403)", async () => {
    const noRater = heldout(["rate", "r", "--results", out]);
    expect(noRater.code).toBe(2);
    expect(noRater.stderr).toMatch(/--rater/);

    alice = await serve(["--rater", "alice", "--seed", "7"]);
    running.push(alice);
    expect(alice.stdout()).toMatch(/80 items, 0 rated before; seed 7/);
    const url = new URL(alice.url);
    const base = `${url.origin}`;
    const token = url.searchParams.get("token") as string;
    expect((await fetch(`${base}/`)).status).toBe(403);
    expect((await fetch(`${base}/api/state`)).status).toBe(403);
    expect((await fetch(`${base}/?token=${"0".repeat(32)}`)).status).toBe(403);
    expect((await fetch(`${base}/api/state`, { headers: { "X-Heldout-Token": token.slice(0, 31) } })).status).toBe(403);
    expect((await fetch(`${base}/api/rate`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ id: "x", score: 5 }) })).status).toBe(403);
    expect((await fetch(`${base}/nothing-here?token=${token}`)).status).toBe(404);
    const ok = await fetch(alice.url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-security-policy")).toMatch(/default-src 'none'; script-src 'sha256-/);
    const state = await fetch(`${base}/api/state`, { headers: { "X-Heldout-Token": token } });
    expect(state.status).toBe(200);
    expectBlind(await state.text());
    expect(existsSync(ratingsFile)).toBe(false); // nothing rated, nothing written
  });

  it("grades by keyboard (score, skip, undo), shows no model or cell name, appends each rating", async () => {
    await open(alice.url);
    expect(await progress()).toBe("rated 0 of 80");
    expect(await page.isVisible("#output")).toBe(true);
    expectBlind(await page.content());
    await press("4");
    expect(await progress()).toBe("rated 1 of 80");
    await press("2");
    const skipped = await currentItem();
    await press("n"); // skip: another item, nothing written
    expect(await currentItem()).not.toBe(skipped);
    expect(await progress()).toBe("rated 2 of 80");
    const beforeUndo = await currentItem();
    await press("5");
    expect(await progress()).toBe("rated 3 of 80");
    await press("u"); // undo: the same item again
    expect(await progress()).toBe("rated 2 of 80");
    expect(await currentItem()).toBe(beforeUndo);
    await press("3");
    await press("1");
    expect(await progress()).toBe("rated 4 of 80");
    expectBlind(await page.content());
    expect(apiBodies.length).toBeGreaterThan(5);
    expectBlind(apiBodies.join("\n"));
    expect(await page.textContent("#rubric-text")).toMatch(/^5: excellent/); // the default rubric

    const raw = readJsonl<Record<string, unknown>>(ratingsFile);
    expect(raw).toHaveLength(6); // 5 ratings and 1 undo
    expect(raw[3]).toMatchObject({ undo: true, rater: "alice", mode: "score", item: raw[2]?.item });
    const eff = effectiveRatings(lines()) as ScoreRating[];
    expect(eff.map((r) => r.score)).toEqual([4, 2, 3, 1]);
    const cellIds = summary.cells.map((c) => c.cellId);
    for (const r of eff) {
      expect(r).toMatchObject({ rater: "alice", mode: "score", runId: "r", seed: 7, sample: 0 });
      expect(cellIds).toContain(r.cellId);
      expect(r.taskId).toMatch(/^[a-z]+-\d+$/);
      expect(r.area).toBe(r.taskId.split("-")[0]);
      expect(Number.isNaN(Date.parse(r.time))).toBe(false);
    }
    // Blind positions 1, 2, (3 skipped), 4, 5.
    expect(eff.map((r) => r.position)).toEqual([1, 2, 4, 5]);
    firstSession.push(...eff);
    expect(pageErrors).toEqual([]);
  });

  it("a restart carries on: rated items are not shown again and progress continues (a torn last line is tolerated)", async () => {
    await stop(alice);
    appendFileSync(ratingsFile, '{"rater":"alice","time":"2026-'); // killed mid-write
    const rubric = join(out, "rubric.yaml");
    writeFileSync(rubric, "names: 'Is the name a plausible one for the story?'\ndefault: |\n  5 reads like a real story\n  1 nonsense\n");
    alice = await serve(["--rater", "alice", "--rubric", rubric]);
    running.push(alice);
    expect(alice.stdout()).toMatch(/80 items, 4 rated before; seed 7 \(your earlier ratings' seed\)/);
    await open(alice.url);
    expect(await progress()).toBe("rated 4 of 80");
    const area = ((await page.textContent("#area")) ?? "").replace("area: ", "");
    expect(await page.textContent("#rubric-text")).toBe(area === "names" ? "Is the name a plausible one for the story?" : "5 reads like a real story\n1 nonsense");
    await press("5");
    await press("4");
    await press("4");
    expect(await progress()).toBe("rated 7 of 80");
    expectBlind(await page.content());
    await stop(alice);

    const all = readJsonl<Record<string, unknown>>(ratingsFile); // every line parses again
    expect(all).toHaveLength(9);
    const eff = effectiveRatings(lines()) as ScoreRating[];
    expect(eff).toHaveLength(7);
    const later = eff.slice(4);
    expect(later.map((r) => r.score)).toEqual([5, 4, 4]);
    // The skipped item first, then the order goes on from where it stopped.
    expect(later.map((r) => r.position)).toEqual([3, 6, 7]);
    const before = new Set(firstSession.map((r) => r.item));
    for (const r of later) expect(before.has(r.item)).toBe(false);
    expect(new Set(eff.map((r) => r.item)).size).toBe(7);
  });

  it("pairwise mode: two cells side by side, left/right randomised and recorded, keys 1/←, 2/→, 0/=", async () => {
    const [a, b] = summary.cells.map((c) => c.cellId) as [string, string];
    const s = await serve(["--rater", "alice", "--mode", "pairwise", "--cells", `${a.slice(0, 16)},${b}`, "--seed", "9"]);
    running.push(s);
    expect(s.stdout()).toMatch(/pairwise preference between 2 cells, rater alice: 40 items, 0 rated before; seed 9/);
    await open(s.url);
    expect(await page.isVisible("#left")).toBe(true);
    expect(await page.isVisible("#right")).toBe(true);
    expect(await page.isVisible("#output")).toBe(false);
    expect(await progress()).toBe("rated 0 of 40");
    const keys = ["ArrowLeft", "2", "=", "1", "ArrowRight", "0"];
    const shown: { left: string; right: string }[] = [];
    for (const key of keys) {
      shown.push({ left: (await page.textContent("#left")) ?? "", right: (await page.textContent("#right")) ?? "" });
      await press(key);
    }
    expect(await progress()).toBe("rated 6 of 40");
    expectBlind(await page.content());
    expectBlind(apiBodies.join("\n"));
    await stop(s);

    const pw = effectiveRatings(lines()).filter((r): r is PairwiseRating => r.mode === "pairwise");
    expect(pw.map((r) => r.preference)).toEqual(["left", "right", "tie", "left", "right", "tie"]);
    const records = readJsonl<{ cellId: string; taskId: string; sample: number; output: string }>(join(runDir, "records.jsonl"));
    const output = (cell: string, task: string) => records.find((r) => r.cellId === cell && r.taskId === task)?.output;
    pw.forEach((r, i) => {
      expect(r.cells).toEqual([a, b].sort());
      expect(new Set([r.left, r.right])).toEqual(new Set([a, b]));
      expect(r.winner).toBe(r.preference === "tie" ? null : r.preference === "left" ? r.left : r.right);
      expect(r).toMatchObject({ seed: 9, position: i + 1, rater: "alice" });
      // What the page showed on each side is that cell's output.
      expect(shown[i]?.left).toBe(output(r.left, r.taskId));
      expect(shown[i]?.right).toBe(output(r.right, r.taskId));
    });
    expect(new Set(pw.map((r) => r.left)).size).toBe(2); // both cells appeared on the left
  });

  it("two raters on the same items: Cohen's kappa from subjectiveQuality, and per-cell figures with n and intervals", async () => {
    const bob = await serve(["--rater", "bob", "--seed", "7"]); // alice's order: his first items are hers
    running.push(bob);
    await open(bob.url);
    expect(await progress()).toBe("rated 0 of 80");
    for (const key of ["4", "3", "3", "1", "2"]) await press(key);
    expect(await progress()).toBe("rated 5 of 80");
    await stop(bob);

    const all = lines();
    const eff = effectiveRatings(all);
    const scoreOf = (rater: string) => new Map(eff.filter((r): r is ScoreRating => r.mode === "score" && r.rater === rater).map((r) => [r.item, r.score]));
    const [al, bo] = [scoreOf("alice"), scoreOf("bob")];
    const common = [...bo.keys()].filter((k) => al.has(k)).map((k) => [al.get(k), bo.get(k)] as [number, number]);
    expect(common).toHaveLength(5);

    const q = subjectiveQuality(all, summary.cells, { seed: 1 });
    expect(q.raters).toEqual(["alice", "bob"]);
    const agree = q.agreement.find((g) => g.mode === "score");
    expect(agree).toMatchObject({ raters: ["alice", "bob"], n: 5 });
    expect(agree?.kappa ?? null).toBe(cohensKappa(common).kappa);
    expect(agree?.weightedKappa ?? null).toBe(cohensKappa(common, "quadratic").kappa);
    expect(q.agreement.find((g) => g.mode === "pairwise")).toBeUndefined(); // bob did no pairwise
    const items = new Set(eff.filter((r) => r.mode === "score").map((r) => r.item));
    expect((q.score?.cells ?? []).reduce((s, c) => s + c.n, 0)).toBe(items.size);
    for (const c of q.score?.cells ?? []) {
      if (c.n === 0) continue;
      expect(c.mean as number).toBeGreaterThanOrEqual(c.low as number);
      expect(c.mean as number).toBeLessThanOrEqual(c.high as number);
    }
    const pw = q.pairwise?.cells ?? [];
    expect(pw).toHaveLength(2);
    expect(pw[0]?.n).toBe(6);
    expect(pw[0]?.strength).not.toBeNull();
    expect(pw[0]?.low).not.toBeNull();
    expect(pageErrors).toEqual([]);
  });

  it("the ratings reach summary.json, compare and the report, with n and intervals", async () => {
    // Stopping the server rewrote the summary and the report.
    const s = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")) as Summary;
    expect(s.subjective?.raters).toEqual(["alice", "bob"]);
    const rated = (s.subjective?.score?.cells ?? []).filter((c) => c.n > 0);
    expect(rated.length).toBeGreaterThan(0);
    for (const c of rated) expect([c.mean, c.low, c.high].every((v) => typeof v === "number")).toBe(true);
    expect(s.subjective?.pairwise?.cells).toHaveLength(2);
    const [a, b] = s.cells.map((c) => c.cellId) as [string, string];
    const cmp = heldout(["compare", `r:${a}`, `r:${b}`, "--out", out]);
    expect(cmp.code, cmp.stderr).toBe(0);
    expect(cmp.stdout).toMatch(/people's ratings \(heldout rate; mean 1–5 score or Bradley–Terry strength, 95% bootstrap interval\):/);
    expect(cmp.stdout).toMatch(new RegExp(`${a.replace(/[@.]/g, "\\$&")}: mean score \\d\\.\\d\\d \\[\\d\\.\\d\\d, \\d\\.\\d\\d\\] of 5, n \\d+`));
    expect(cmp.stdout).toMatch(/Bradley–Terry strength -?\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\] \(\d+ wins, \d+ ties, \d+ losses of \d+\)/);
    const json = JSON.parse(heldout(["compare", `r:${a}`, `r:${b}`, "--out", out, "--format", "json"]).stdout) as { subjective: { cellId: string; score: { n: number } | null }[] };
    expect(json.subjective.map((x) => x.cellId)).toEqual([a, b]);
    await page.goto(`file://${join(runDir, "report.html")}`);
    await page.waitForSelector("#ratings");
    expect(await page.locator("#ratings-table tbody tr").count()).toBe(rated.length);
    expect(await page.locator("#pairwise-table tbody tr").count()).toBe(2);
    expect(await page.textContent("#ratings")).toMatch(/alice and bob \(score, 5 items both rated\): Cohen's κ/);
  });
});
