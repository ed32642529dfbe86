import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Reproduction } from "../src/check/reproduce.js";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import type { RunManifest } from "../src/runner/run.js";
import type { DeterminismCheck } from "../src/store/checks.js";
import { heldout, readJsonl, tempDir } from "./helpers/cli.js";

/**
 * Trust in the numbers, on the real engine: the demo run reproduces exactly, a changed thread
 * count is named, a changed output is caught; `check determinism` compares 1 and 8 sequences and
 * later runs know whether their parallel setting was checked.
 */

const out = tempDir("heldout-reproduce-");
const demo = heldout(["run", "--out", out, "--run-id", "demo", "-q"]);

describe("heldout reproduce", () => {
  it("re-runs the demo and gets every greedy output back exactly", () => {
    expect(demo.code, demo.stderr).toBe(0);
    const r = heldout(["reproduce", "demo", "--results", out, "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const x = JSON.parse(r.stdout) as Reproduction & { reproduction: string };
    expect(x.tasks).toBe(1000);
    expect(x.cells.map((c) => c.modelId)).toEqual(["arith-step300", "arith-step600", "arith-step1500"]);
    for (const c of x.cells) {
      expect(c.greedy).toBe(true);
      expect(c.agreement).toMatchObject({ compared: 1000, identical: 1000, differing: 0 });
    }
    expect(x.differences).toEqual([]);
    expect(x.reproduced).toBe(true);
    // The re-run is a run like any other, of the whole suite.
    const again = JSON.parse(readFileSync(join(out, x.reproduction, "manifest.json"), "utf8")) as RunManifest;
    expect(again.suite.tasks).toBe(1000);
    expect(again.suite.subsetOf).toBeUndefined();
  });

  it("with another thread count, lists exactly the settings that changed", () => {
    const r = heldout(["reproduce", "demo", "--results", out, "--sample", "40", "--threads", "2", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: 40 task\(s\) re-run/);
    const id = (r.stdout.match(/→ (\S+):/) as RegExpMatchArray)[1] as string;
    const subset = JSON.parse(readFileSync(join(out, id, "manifest.json"), "utf8")) as RunManifest;
    expect(subset.suite).toMatchObject({ tasks: 40, subsetOf: 1000 });
    expect(subset.inputs.taskIds).toHaveLength(40);
    expect(r.stdout).toMatch(/^ {2}arith-step600\.runtime\.threads: auto → 2$/m);
    expect(r.stdout).toMatch(/^ {2}arith-step600\.engine\.context\.threads: 1 → 2$/m);
    const changed = [...r.stdout.matchAll(/^ {2}(\S+): /gm)].map((m) => m[1]);
    expect(changed.every((k) => /\.(runtime\.threads|engine\.context\.threads|engine\.context\.threadsReason)$/.test(k as string))).toBe(true);
  });

  it("catches an output that does not come back, and exits 1", () => {
    const file = join(out, "demo", "records.jsonl");
    const records = readJsonl<RunRecord>(file);
    const target = records.find((r) => r.modelId === "arith-step1500" && r.taskId === "add-001") as RunRecord;
    target.output = `${target.output}9`;
    writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const all = heldout(["reproduce", "demo", "--results", out, "-q"]);
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/arith-step1500 \(greedy\): 1 of 1000 outputs differ \(0\.1%\)/);
    expect(all.stdout).toMatch(/add-001, first difference at character \d+:\n\s+original \[\w+\]: .*9\n\s+re-run \[\w+\]: /);
    expect(all.stdout).toMatch(/^NOT reproduced/m);
  });
});

describe("heldout check determinism", () => {
  it("compares 1 and 8 sequences on arith-step600 and records the finding for later runs", () => {
    const r = heldout(["check", "determinism", "--model", "models/arith-step600.yaml", "--parallel", "8", "--results", out, "--run-id", "det", "--json", "-q"]);
    expect([0, 1]).toContain(r.code); // 1 would mean outputs differed: a finding, not a failure of the check
    const x = JSON.parse(r.stdout) as { comparisons: { baseline: string; variant: string; agreement: { compared: number; differing: number } }[] };
    expect(x.comparisons).toHaveLength(1);
    expect(x.comparisons[0]?.baseline).toMatch(/^parallel 1,/);
    expect(x.comparisons[0]?.variant).toMatch(/^parallel 8,/);
    expect(x.comparisons[0]?.agreement.compared).toBe(1000);
    expect(r.code).toBe((x.comparisons[0]?.agreement.differing ?? 0) > 0 ? 1 : 0);
    const checks = readJsonl<DeterminismCheck>(join(out, "checks.jsonl"));
    expect(checks.at(-1)).toMatchObject({ kind: "determinism", runId: "det", modelId: "arith-step600", variant: { parallel: 8 }, baseline: { parallel: 1 }, compared: 1000 });

    // A run at the checked setting records the finding; one at an unchecked setting warns.
    const profile = (p: number) => {
      const file = join(out, `p${p}.yaml`);
      writeFileSync(file, `name: p${p}\nsampling: {temperature: 0, topP: 1, topK: 0, minP: 0, repeatPenalty: 1, seed: 1}\nparallel: ${p}\n`);
      return file;
    };
    const checked = heldout(["run", "--model", "models/arith-step600.yaml", "--profile", profile(8), "--out", out, "--run-id", "p8", "-q"]);
    expect(checked.code, checked.stderr).toBe(0);
    const m8 = JSON.parse(readFileSync(join(out, "p8", "manifest.json"), "utf8")) as RunManifest;
    expect(m8.cells[0]?.determinism).toMatchObject({ checked: true, runId: "det", compared: 1000 });
    const s8 = JSON.parse(readFileSync(join(out, "p8", "summary.json"), "utf8")) as Summary;
    expect(s8.warnings?.some((w) => w.includes("not checked"))).toBe(false);
    const unchecked = heldout(["run", "--model", "models/arith-step600.yaml", "--profile", profile(3), "--out", out, "--run-id", "p3", "-q"]);
    expect(unchecked.code, unchecked.stderr).toBe(0);
    expect(unchecked.stdout).toMatch(/warning: arith-step600@\w+ decodes 3 sequences together, a setting not checked on this model.*heldout check determinism --model models\/arith-step600\.yaml --parallel 3/);
    const s3 = JSON.parse(readFileSync(join(out, "p3", "summary.json"), "utf8")) as Summary;
    expect(s3.warnings).toHaveLength(1);
  });

  it("refuses a check with nothing to compare", () => {
    const r = heldout(["check", "determinism", "--model", "models/arith-step600.yaml", "--parallel", "1", "--results", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing to compare/);
  });
});
