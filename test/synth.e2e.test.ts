import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProfileResult } from "../src/profile/grid.js";
import type { Summary } from "../src/core/summary.js";
import { heldout, tempDir } from "./helpers/cli.js";

/** Synthetic checkpoints: valid GGUFs of a given shape with random weights and a real tokenizer. */
describe("heldout synth", () => {
  const dir = tempDir("heldout-synth-");
  const f32 = join(dir, "stories-shape-f32.gguf");
  const q8 = join(dir, "stories-shape-q8_0.gguf");

  it("writes a stories260K-shaped GGUF the size of the real one, and a Q8_0 one", () => {
    const r = heldout(["synth", "--shape", "stories260k", "--type", "f32", "--out", f32]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/5 layers × 64 embd × 172 ff, 8\/4 heads, f32/);
    // Same tensors as ../shared/models/stories260K.gguf (1,185,376 bytes), metadata aside.
    expect(Math.abs(statSync(f32).size - 1_185_376)).toBeLessThan(40_000);
    expect(heldout(["synth", "--shape", "stories260k", "--type", "q8_0", "--out", q8]).code).toBe(0);
    expect(statSync(q8).size).toBeLessThan(statSync(f32).size / 2);
  });

  it("loads and runs through heldout run (its outputs are noise, its records are whole)", () => {
    const r = heldout(["run", "--suite", "tasks/tinystories", "--model", q8, "--out", dir, "--run-id", "noise", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.cells[0]?.n).toBe(40);
    expect(s.cells[0]?.failures.errors).toBe(0);
  });

  it("is profiled like the real model and marked synthetic; generation speed does not depend on the weights", () => {
    const r = heldout(["profile", "--model", f32, "--model", "../shared/models/stories260K.gguf", "--pp", "0", "--tg", "64", "--reps", "7", "--warmup", "2", "--out", dir, "--run-id", "prof"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^stories-shape-f32 \(synthetic\)\s/m);
    const results = (JSON.parse(readFileSync(join(dir, "prof", "profile.json"), "utf8")) as { results: ProfileResult[] }).results;
    const [synthetic, real] = results;
    expect(synthetic?.synthetic).toBe(true);
    expect(real?.synthetic).toBe(false);
    // Same shape, same type: the same work per token. This machine drifts ±30%, so only a gross
    // difference (a wrong shape, a slow path) fails this.
    const ratio = (synthetic?.stats.median as number) / (real?.stats.median as number);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});
