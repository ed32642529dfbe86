import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { scoreOutput } from "../src/scorers/index.js";
import { loadSuite } from "../src/store/suite-files.js";
import { ROOT, heldout, readJsonl, tempDir } from "./helpers/cli.js";

/** End to end through the real CLI, node-llama-cpp and stories260K: what a user runs and reads. */

const out = tempDir("heldout-e2e-");
const run = (id: string, extra: string[] = []) =>
  heldout(["run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--out", out, "--run-id", id, "--json", ...extra]);

describe("heldout run on stories260K", () => {
  const first = run("first");
  const dir = join(out, "first");

  it("exits 0 and prints summary.json on stdout with --json", () => {
    expect(first.stderr).not.toMatch(/internal error/);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout) as Summary;
    expect(summary.schemaVersion).toBe(1);
    expect(summary.cells).toHaveLength(1);
    expect(summary.cells[0]?.modelId).toBe("stories260k");
    expect(summary.cells[0]?.status).toBe("completed");
    expect(summary.cells[0]?.n).toBe(40);
  });

  it("writes manifest.json, records.jsonl and a summary.json that matches its JSON Schema", () => {
    for (const f of ["manifest.json", "records.jsonl", "summary.json", "cells.jsonl"]) expect(existsSync(join(dir, f))).toBe(true);
    const schema = JSON.parse(readFileSync(join(ROOT, "schemas/summary.schema.json"), "utf8")) as object;
    const ajv = new Ajv2020.default({ allErrors: true });
    const validate = ajv.compile(schema);
    const summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as unknown;
    expect(validate.errors ?? []).toEqual([]);
    expect(validate(summary)).toBe(true);
  });

  it("records the suite hash, the model's sha256, versions and hardware in the manifest", () => {
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const suite = loadSuite(join(ROOT, "tasks/tinystories"));
    expect(manifest.suite.hash).toBe(suite.hash);
    expect(manifest.suite.frozen).toBe(true);
    expect(manifest.cells[0].model.sha256).toBe("270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
    expect(manifest.cells[0].settings.sampling).toMatchObject({ temperature: 0, topP: 1, topK: 0, minP: 0, repeatPenalty: 1, seed: 42 });
    expect(manifest.system.software.nodeLlamaCpp).toMatch(/^\d+\.\d+\.\d+/);
    expect(manifest.system.software.heldout).toMatch(/^\d+\.\d+\.\d+/);
    expect(manifest.system.cpu.cores).toBeGreaterThan(0);
    expect(manifest.system.memory.totalBytes).toBeGreaterThan(0);
    const cell = readJsonl<{ backend: { engine: Record<string, unknown>; context: Record<string, unknown> } }>(join(dir, "cells.jsonl"))[0];
    expect(cell?.backend.engine.binary).toMatch(/^(prebuilt|localBuild)$/);
    expect(typeof cell?.backend.context.threads).toBe("number");
    expect(cell?.backend.context.threadsReason).toBeTruthy();
  });

  it("writes one record per task with prompt, token ids, output, timings and score", () => {
    const records = readJsonl<RunRecord>(join(dir, "records.jsonl"));
    expect(records).toHaveLength(40);
    expect(new Set(records.map((r) => r.taskId)).size).toBe(40);
    for (const r of records) {
      expect(r.suiteHash).toMatch(/^[0-9a-f]{64}$/);
      expect(r.promptTokenIds[0]).toBe(1); // BOS
      expect(r.promptTokens).toBe(r.promptTokenIds.length);
      expect(r.latencyMs).toBeGreaterThan(0);
      expect(r.ttftMs).toBeGreaterThan(0);
      expect(r.completionTokens).toBeGreaterThan(0);
      expect(r.error).toBeNull();
    }
    const lily = records.find((r) => r.taskId === "names-01");
    // The model card: greedy "Once upon a time, there was a little" continues " girl named Lily."
    expect(lily?.output.startsWith(" Lily")).toBe(true);
    expect(lily?.score.pass).toBe(true);
  });

  it("reports the pass rate that an independent re-scoring of records.jsonl gives", () => {
    const suite = loadSuite(join(ROOT, "tasks/tinystories"));
    const records = readJsonl<RunRecord>(join(dir, "records.jsonl"));
    const byId = new Map(suite.tasks.map((t) => [t.id, t]));
    const rescored = records.filter((r) => {
      const task = byId.get(r.taskId);
      if (!task) throw new Error(r.taskId);
      return scoreOutput(task.scorer ?? suite.scorer, r.output, task.expected).pass;
    }).length;
    const summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as Summary;
    expect(summary.cells[0]?.passed).toBe(rescored);
    expect(summary.cells[0]?.passRate).toBeCloseTo(rescored / records.length, 12);
    for (const area of summary.cells[0]?.areas ?? []) {
      const rs = records.filter((r) => r.area === area.area);
      expect(area.n).toBe(rs.length);
      expect(area.passed).toBe(rs.filter((r) => r.score.pass).length);
    }
  });

  it("is deterministic under greedy decoding: a second run gives identical outputs and pass rates", () => {
    const second = run("second");
    expect(second.code).toBe(0);
    const a = readJsonl<RunRecord>(join(dir, "records.jsonl"));
    const b = readJsonl<RunRecord>(join(out, "second", "records.jsonl"));
    expect(b.map((r) => [r.taskId, r.output, r.promptTokenIds])).toEqual(a.map((r) => [r.taskId, r.output, r.promptTokenIds]));
    expect((JSON.parse(second.stdout) as Summary).cells[0]?.passRate).toBe((JSON.parse(first.stdout) as Summary).cells[0]?.passRate);
  });

  it("gives the same outputs with 4 sequences decoded together as with one", () => {
    const profile = join(out, "parallel.yaml");
    writeFileSync(profile, "name: parallel4\nparallel: 4\n");
    const p4 = run("parallel", ["--profile", profile]);
    expect(p4.code).toBe(0);
    const a = readJsonl<RunRecord>(join(dir, "records.jsonl"));
    const b = readJsonl<RunRecord>(join(out, "parallel", "records.jsonl"));
    const byTask = new Map(b.map((r) => [r.taskId, r.output]));
    expect(a.map((r) => byTask.get(r.taskId))).toEqual(a.map((r) => r.output));
  });

  it("prints a table with one row per model when --json is not given", () => {
    const t = heldout(["show", join(out, "first")]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^model\s+pass\s+95% CI\s+n\s+animals\s+feelings\s+names\s+objects\s+gen tok\/s/m);
    expect(t.stdout).toMatch(/^stories260k\s+0\.\d{3}\s+0\.\d{3}–0\.\d{3}\s+40\s/m);
  });
});
