import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SuiteLock } from "../src/core/lock.js";
import type { Summary } from "../src/core/summary.js";
import type { RunManifest } from "../src/runner/run.js";
import { loadSuite, type SealLogEntry } from "../src/store/suite-files.js";
import { copySuite, heldout, readJsonl, tempDir } from "./helpers/cli.js";

/** The sealed held-out split end to end: freeze --split, dev by default, test only with --unseal, the seal log. */

const readLock = (dir: string) => JSON.parse(readFileSync(join(dir, "suite.lock.json"), "utf8")) as SuiteLock;
const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as RunManifest;

describe("heldout freeze --split", () => {
  const suite = copySuite("arith");
  const plain = heldout(["freeze", suite]);
  const plainLock = readLock(suite);
  const frozen = heldout(["freeze", suite, "--split", "dev=0.3,test=0.7", "--seed", "7"]);
  const lock = readLock(suite);

  it("marks every task dev or test, stratified by area, without changing the suite hash", () => {
    expect(plain.code).toBe(0);
    expect(frozen.code).toBe(0);
    expect(frozen.stdout).toMatch(/split \(seed 7\): dev \d+, test \d+/);
    expect(lock.hash).toBe(plainLock.hash);
    const split = lock.split;
    expect(split).toBeDefined();
    if (!split) return;
    expect(split.seed).toBe(7);
    expect(split.hash).toMatch(/^[0-9a-f]{64}$/);
    const tasks = loadSuite(suite).tasks;
    expect(Object.keys(split.tasks).sort()).toEqual(tasks.map((t) => t.id).sort());
    expect(new Set(Object.values(split.tasks))).toEqual(new Set(["dev", "test"]));
    const areas = new Map<string, { n: number; dev: number }>();
    for (const t of tasks) {
      const a = areas.get(t.area ?? "") ?? { n: 0, dev: 0 };
      a.n++;
      if (split.tasks[t.id] === "dev") a.dev++;
      areas.set(t.area ?? "", a);
    }
    expect(areas.size).toBeGreaterThan(1);
    for (const a of areas.values()) expect(Math.abs(a.dev - 0.3 * a.n)).toBeLessThanOrEqual(1);
  });

  it("same seed gives the same split; another seed another one; re-freezing keeps it", () => {
    const again = copySuite("arith");
    expect(heldout(["freeze", again, "--split", "dev=0.3,test=0.7", "--seed", "7"]).code).toBe(0);
    expect(readLock(again).split).toEqual(lock.split);
    expect(heldout(["freeze", again, "--split", "dev=0.3,test=0.7", "--seed", "8"]).code).toBe(0);
    const other = readLock(again).split;
    expect(other?.hash).not.toBe(lock.split?.hash);
    expect(other?.tasks).not.toEqual(lock.split?.tasks);
    const refreeze = heldout(["freeze", again]);
    expect(refreeze.code).toBe(0);
    expect(refreeze.stdout).toMatch(/kept from the previous lock/);
    expect(readLock(again).split?.hash).toBe(other?.hash);
  });

  it("rejects shares that do not sum to 1 and a split without a seed", () => {
    const bad = heldout(["freeze", copySuite("arith"), "--split", "dev=0.3,test=0.6", "--seed", "7"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/sum to 1/);
    const noSeed = heldout(["freeze", copySuite("arith"), "--split", "dev=0.3,test=0.7"]);
    expect(noSeed.code).toBe(2);
    expect(noSeed.stderr).toMatch(/--seed/);
  });
});

describe("runs on a sealed split", () => {
  const suite = copySuite("arith");
  heldout(["freeze", suite, "--split", "dev=0.3,test=0.7", "--seed", "7"]);
  const split = readLock(suite).split as NonNullable<SuiteLock["split"]>;
  const devIds = Object.keys(split.tasks).filter((id) => split.tasks[id] === "dev");
  const testIds = Object.keys(split.tasks).filter((id) => split.tasks[id] === "test");
  const out = tempDir("heldout-seal-");
  const run = (id: string, extra: string[] = []) => heldout(["run", "--suite", suite, "--model", "models/arith-step600.yaml", "--out", out, "--run-id", id, "--json", "-q", ...extra]);
  const log = join(suite, "seal-log.jsonl");

  const dev = run("dev1");
  it("a plain run uses only the dev tasks and records the split", () => {
    expect(dev.stderr).not.toMatch(/internal error/);
    expect(dev.code).toBe(0);
    const summary = JSON.parse(dev.stdout) as Summary;
    expect(summary.cells[0]?.n).toBe(devIds.length);
    const m = readManifest(join(out, "dev1"));
    expect(m.split).toEqual({ name: "dev", seed: 7, hash: split.hash, unsealed: false, chosenOn: null });
    expect(new Set(m.inputs.taskIds)).toEqual(new Set(devIds));
    expect(existsSync(log)).toBe(false);
  });

  it("--split test without --unseal is refused and runs nothing", () => {
    const r = run("sneak", ["--split", "test"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sealed/);
    expect(r.stderr).toMatch(/--unseal/);
    expect(existsSync(join(out, "sneak"))).toBe(false);
    expect(existsSync(log)).toBe(false);
    expect(run("sneak-all", ["--split", "all"]).code).toBe(2);
  });

  it("--split test --unseal runs the test tasks, writes the seal log and the manifest's split", () => {
    const r = run("test1", ["--split", "test", "--unseal", "--chosen-on", "dev1"]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Summary).cells[0]?.n).toBe(testIds.length);
    const m = readManifest(join(out, "test1"));
    expect(m.split).toEqual({ name: "test", seed: 7, hash: split.hash, unsealed: true, chosenOn: ["dev1"] });
    const lines = readJsonl<SealLogEntry>(log);
    expect(lines).toHaveLength(1);
    const [e] = lines;
    expect(e?.runId).toBe("test1");
    expect(e?.resultsDir).toBe(join(out, "test1"));
    expect(e?.chosenOn).toEqual(["dev1"]);
    expect(e?.models[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(e?.cells[0]?.settings).toBeDefined();
    expect(e?.command).toContain("--unseal");
    // The report puts the test run beside the dev run its settings were chosen on.
    const html = readFileSync(join(out, "test1", "report.html"), "utf8");
    expect(html).toContain('<section id="dev-test">');
    expect(html).toMatch(/<td class="text">dev1<\/td>/);
    // "Confidently wrong" on test uses the confidence level chosen on dev.
    const summary = JSON.parse(readFileSync(join(out, "test1", "summary.json"), "utf8")) as Summary;
    expect(summary.cells[0]?.calibration?.thresholdSource).toMatch(/^chosen on dev run dev1/);
  });

  it("--chosen-on must name a dev run", () => {
    const r = run("test-bad", ["--split", "test", "--unseal", "--chosen-on", "nope"]);
    expect(r.code).toBe(2);
    expect(readJsonl(log)).toHaveLength(1);
  });

  it("seal-status lists the split and each use of test, and dev vs test", () => {
    const s = heldout(["seal-status", suite, "--out", out]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/seed 7/);
    expect(s.stdout).toContain(split.hash);
    expect(s.stdout).toMatch(/dev\s+300\s+60\s+60/);
    expect(s.stdout).toMatch(/run test1/);
    expect(s.stdout).toMatch(/dev vs test for run test1/);
    expect(s.stdout).not.toMatch(/spends it/);
  });

  it("a second look at test is logged and warned about", () => {
    const r = run("test2", ["--split", "test", "--unseal"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/spends it/);
    expect(readJsonl(log)).toHaveLength(2);
    const s = heldout(["seal-status", suite, "--out", out]);
    expect(s.stdout).toMatch(/used 2 time/);
    expect(s.stdout).toMatch(/warning: .*spends it/);
  });

  it("a split edited in the lock is refused", () => {
    const other = copySuite("arith");
    heldout(["freeze", other, "--split", "dev=0.3,test=0.7", "--seed", "7"]);
    const lockFile = join(other, "suite.lock.json");
    const l = readLock(other);
    const first = Object.keys(l.split?.tasks ?? {})[0] as string;
    if (l.split) l.split.tasks[first] = l.split.tasks[first] === "dev" ? "test" : "dev";
    writeFileSync(lockFile, JSON.stringify(l));
    const r = heldout(["run", "--suite", other, "--model", "models/arith-step600.yaml", "--out", out, "--run-id", "edited", "-q"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/split/);
  });
});
