import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cellCost, parseCostProfile } from "../src/core/cost.js";
import type { CellExecution, Summary } from "../src/core/summary.js";
import { heldout, readJsonl, ROOT, tempDir } from "./helpers/cli.js";

/**
 * Outputs made elsewhere (backend: outputs) scored beside a local model, and what each cell costs:
 * cost per passing task checked against a hand computation, in summary, compare and report.
 */

const out = tempDir("heldout-cost-");
const tasks = readFileSync(join(ROOT, "tasks/arith/tasks.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { id: string; area: string; expected: string });
const outputs = (name: string, answer: (t: (typeof tasks)[number]) => string) => {
  const file = join(out, `${name}.jsonl`);
  writeFileSync(file, tasks.map((t) => JSON.stringify({ taskId: t.id, output: answer(t), promptTokens: 10, completionTokens: 3 })).join("\n") + "\n");
  writeFileSync(join(out, `${name}.yaml`), `id: ${name}\nbackend: outputs\nsources: [${name}.jsonl]\n`);
  return join(out, `${name}.yaml`);
};
const good = outputs("api-good", (t) => (t.area === "sub" ? "wrong" : String(t.expected)));
const none = outputs("api-none", () => "no idea");
const profile = join(out, "cost.yaml");
writeFileSync(profile, "name: test\ncurrency: EUR\npower: {cpuWatts: 50, gpuWatts: 0, measure: false}\nelectricity: {pricePerKwh: 0.4}\nhardware: {price: 3600, lifetimeHours: 1000}\napi: {inputPerMillion: 2, outputPerMillion: 8}\n");
const run = heldout(["run", "--model", good, "--model", none, "--model", "models/arith-step600.yaml", "--cost", profile, "--out", out, "--run-id", "c", "--json", "-q"]);

describe("backend: outputs", () => {
  it("scores outputs made elsewhere in the same table as a local model, with no timings", () => {
    expect(run.code, run.stderr).toBe(0);
    const s = JSON.parse(run.stdout) as Summary;
    const [apiGood, apiNone, local] = s.cells;
    expect(apiGood?.passRate).toBeCloseTo(0.8, 12); // every area right but sub: 800 of 1,000
    expect(apiGood?.areas.find((a) => a.area === "sub")?.passRate).toBe(0);
    expect(apiNone?.passed).toBe(0);
    expect(apiGood?.timed).toBe(false);
    expect(apiGood?.latencyMs.p50).toBeNull();
    expect(apiGood?.generationTokensPerSecond.median).toBeNull();
    expect(apiGood?.loadMs).toBeNull();
    expect(apiGood?.peakRssBytes).toBeNull();
    expect(local?.timed).toBe(true);
    const table = heldout(["show", join(out, "c")]);
    expect(table.stdout).toMatch(/api-good@\w+: outputs read from a file \(backend: outputs\): no timings/);
  });

  it("refuses an outputs file with a malformed line or a task of another suite, naming file, line and field", () => {
    const bad = join(out, "bad.jsonl");
    writeFileSync(bad, '{"taskId": "add-001", "output": "61"}\n{"taskId": "add-002"}\nnot json\n{"taskId": "nope-1", "output": "x"}\n');
    writeFileSync(join(out, "bad.yaml"), "id: bad\nbackend: outputs\nsources: [bad.jsonl]\n");
    const r = heldout(["run", "--model", join(out, "bad.yaml"), "--out", out, "-q"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.jsonl:2: field "output": is required/);
    expect(r.stderr).toMatch(/bad\.jsonl:3: not valid JSON/);
  });
});

describe("cost per passing task", () => {
  it("matches a hand computation for a local cell and an API-priced cell, and is ∞ when nothing passes", () => {
    const s = JSON.parse(readFileSync(join(out, "c", "summary.json"), "utf8")) as Summary;
    const [apiGood, apiNone, local] = s.cells as [Summary["cells"][0], Summary["cells"][0], Summary["cells"][0]];
    // API: (1,000 × 10 prompt × 2 + 1,000 × 3 completion × 8) / 1e6 = 0.044 EUR; 800 passed.
    expect(apiGood.cost?.total).toBeCloseTo(0.044, 12);
    expect(apiGood.cost?.perPassingTask).toBeCloseTo(0.044 / 800, 15);
    expect(apiGood.cost?.perRequest).toBeCloseTo(0.044 / 1000, 15);
    expect(apiGood.cost?.perMillionTokens).toBeCloseTo((0.044 * 1e6) / 3000, 9);
    expect(apiNone.cost).toMatchObject({ perPassingTask: null, nonePassed: true });
    // Local: 50 W × wall seconds, at 0.4 EUR/kWh, plus 3,600 EUR over 1,000 h = 0.001 EUR per second.
    const wallMs = readJsonl<CellExecution>(join(out, "c", "cells.jsonl")).filter((e) => e.cellId === local.cellId).reduce((t, e) => t + (e.generationWallMs ?? 0), 0);
    const seconds = wallMs / 1000;
    const total = ((50 * seconds) / 3.6e6) * 0.4 + seconds * 0.001;
    expect(local.cost?.total).toBeCloseTo(total, 12);
    expect(local.cost?.perPassingTask).toBeCloseTo(total / local.passed, 15);
    expect(local.cost?.energyWhPer1kTokens).toBeCloseTo(((50 * seconds) / 3600) * (1000 / local.tokens.completion), 9);
    expect(local.cost?.inputs).toMatch(/CPU 50 W stated/);
  });

  it("appears in the table, compare and the report", async () => {
    const table = heldout(["show", join(out, "c")]);
    expect(table.stdout).toMatch(/api-none@\w+: ∞ \(nothing passed\) per passing task/);
    expect(table.stdout).toMatch(/api-good@\w+: 0\.000055 EUR per passing task; 14\.67 EUR per 1M tokens/);
    const s = JSON.parse(readFileSync(join(out, "c", "summary.json"), "utf8")) as Summary;
    const [a, , b] = s.cells.map((c) => c.cellId);
    const cmp = heldout(["compare", `c:${a}`, `c:${b}`, "--out", out]);
    expect(cmp.code, cmp.stderr).toBe(0);
    expect(cmp.stdout).toMatch(/cost \(per passing task = the cell's total cost ÷ tasks passed\):\n {2}api-good@\w+: 0\.000055 EUR per passing task/);
    const html = readFileSync(join(out, "c", "report.html"), "utf8");
    expect(html).toContain('<section id="cost">');
    expect(html).toContain("∞ (nothing passed)");
  });

  it("heldout cost prices a finished run after the fact; a bad profile names its field", () => {
    const r = heldout(["cost", "c", "--results", out, "--cost", "profiles/cost-cpu.yaml"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/EUR per passing task/);
    const bad = join(out, "bad-cost.yaml");
    writeFileSync(bad, "name: x\npower: {cpuWatts: -5}\n");
    const e = heldout(["cost", "c", "--results", out, "--cost", bad]);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/bad-cost\.yaml:2: field "power\.cpuWatts"/);
  });

  it("the pure computation: measured energy wins over stated watts when asked", () => {
    const p = parseCostProfile("p.yaml", "name: p\npower: {cpuWatts: 100, measure: true}\nelectricity: {pricePerKwh: 1}\n");
    const usage = { modelId: "m", priced: "local" as const, generations: 10, passed: 5, promptTokens: 0, completionTokens: 1000, wallMs: 3600_000, measuredJoules: { cpu: 3.6e6, gpu: null } };
    expect(cellCost(p, usage).total).toBeCloseTo(1, 12); // 1 kWh measured, not 100 Wh stated
    expect(cellCost({ ...p, measure: false }, usage).total).toBeCloseTo(0.1, 12);
  });
});
