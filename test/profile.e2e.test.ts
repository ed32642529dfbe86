import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProfileResult } from "../src/profile/grid.js";
import { heldout, tempDir } from "./helpers/cli.js";

/** The throughput profiler on the real stories260K through node-llama-cpp. */
describe("heldout profile", () => {
  it("measures pp and tg over a list of settings, prints mean ± sd and writes profile.json", () => {
    const out = tempDir();
    const r = heldout(["profile", "--model", "models/stories260k.yaml", "--pp", "64", "--tg", "32", "--threads", "1", "--parallel", "1,2", "--reps", "2", "--warmup", "1", "--out", out, "--run-id", "p"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^model\s+binary\s+threads\s+P\s+depth\s+batch\s+FA\s+test\s+t\/s \(mean ± sd\)\s+median\s+per seq\s+roofline$/m);
    expect(r.stdout).toMatch(/^stories260k\s+\S+\s+1\s+2\s+0\s+auto\s+off\s+tg32\s+[\d.]+ ± [\d.]+/m);
    const results = (JSON.parse(readFileSync(join(out, "p", "profile.json"), "utf8")) as { results: ProfileResult[] }).results;
    expect(results).toHaveLength(4); // (pp64, tg32) × P = 1, 2
    for (const x of results) {
      expect(x.error).toBeNull();
      expect(x.samples).toHaveLength(2);
      expect(x.stats.median).toBeGreaterThan(0);
      expect(x.engine.binary).toMatch(/^(prebuilt|localBuild)$/);
    }
    // Aggregate over two sequences is their sum: per sequence is half of it.
    const tg2 = results.find((x) => x.test.kind === "tg" && x.point.parallel === 2) as ProfileResult;
    expect(tg2.perSequence.median).toBeCloseTo((tg2.stats.median as number) / 2, 6);
    // The roofline: tg implies a bandwidth (weights once per step, for both sequences together).
    const share = tg2.roofline?.share as number;
    expect(share).toBeGreaterThan(0);
    expect(tg2.roofline?.impliedBytesPerSecond).toBeCloseTo((tg2.roofline?.bytesPerToken as number) * ((tg2.stats.median as number) / 2), 0);
    expect(r.stdout).toMatch(/roofline: generation reads every weight once per step; measured copy bandwidth [\d.]+ GB\/s/);
    // One setting per sequence count: nothing to choose between, so no recommendation.
    expect(r.stdout).not.toMatch(/recommended for this machine/);
    // doctor repeats what the newest profile of a model found, or says how to measure it.
    const doctor = heldout(["doctor", "--model", "models/stories260k.yaml", "--model", "models/arith-step600.yaml", "--out", out]);
    expect(doctor.stdout).toMatch(/^OK\s+speed stories260k\s+profiled with a single setting: nothing to compare$/m);
    expect(doctor.stdout).toMatch(/^OK\s+speed arith-step600\s+not profiled on this machine yet\n\s+fix: heldout profile --model models\/arith-step600\.yaml/m);
  });
});

describe("heldout profile --engine llama-server", () => {
  it("measures the same tests through llama.cpp's own server, by its own timings", () => {
    const out = tempDir();
    const r = heldout(["profile", "--model", "models/stories260k.yaml", "--engine", "embedded,llama-server", "--pp", "64", "--tg", "32", "--reps", "2", "--out", out, "--run-id", "s"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^stories260k\s+llama-server\s+1\s+1\s+0\s+auto\s+off\s+tg32\s+[\d.]+ ± [\d.]+/m);
    const results = (JSON.parse(readFileSync(join(out, "s", "profile.json"), "utf8")) as { results: ProfileResult[] }).results;
    expect(results.map((x) => x.point.engine)).toEqual(["embedded", "embedded", "llama-server", "llama-server"]);
    expect(results.every((x) => x.error === null && (x.stats.median as number) > 0)).toBe(true);
  });
});

describe("heldout profile --reps auto", () => {
  it("repeats until the 95% interval of the mean is within --ci-width, or --max-reps, and prints the interval", () => {
    const out = tempDir();
    const r = heldout(["profile", "--model", "models/stories260k.yaml", "--pp", "64", "--tg", "16", "--threads", "1", "--reps", "auto", "--ci-width", "50", "--max-reps", "8", "--out", out, "--run-id", "a"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pp64\s+[\d.]+ ± [\d.]+ \(n \d+, 95% CI ±[\d.]+%(, max reached)?\)/);
    const results = (JSON.parse(readFileSync(join(out, "a", "profile.json"), "utf8")) as { results: ProfileResult[] }).results;
    for (const x of results) {
      expect(x.samples.length).toBeGreaterThanOrEqual(3);
      expect(x.samples.length).toBeLessThanOrEqual(8);
      expect(["converged", "max-reps"]).toContain(x.stopped);
    }
    expect(heldout(["profile", "--model", "models/stories260k.yaml", "--reps", "many", "--out", out]).stderr).toMatch(/--reps takes a whole number ≥ 1, or auto, got many/);
  });
});
