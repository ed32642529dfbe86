import { describe, expect, it } from "vitest";
import { abstains, calibration, thresholdOnDev } from "../src/core/calibration.js";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { heldout, readJsonl, tempDir } from "./helpers/cli.js";
import { join } from "node:path";

/** Confidence and calibration from token probabilities. */

const rec = (p: number, pass: boolean, output = "x"): RunRecord =>
  ({ finishReason: "eos", output, score: { pass, value: pass ? 1 : 0, reason: "" }, confidence: { meanLogprob: Math.log(p), minLogprob: Math.log(p), tokens: 1 } }) as unknown as RunRecord;

describe("calibration (pure)", () => {
  it("bins, ECE, confidently wrong, abstention and risk-coverage match a hand computation", () => {
    // Bin 0.9–1.0: four answers at 0.95, three right (accuracy 0.75); bin 0.5–0.6: two at 0.55, one right.
    const records = [rec(0.95, true), rec(0.95, true), rec(0.95, true), rec(0.95, false), rec(0.55, true), rec(0.55, false, "I don't know")];
    const k = calibration(records) as NonNullable<ReturnType<typeof calibration>>;
    expect(k.n).toBe(6);
    expect(k.bins[9]).toMatchObject({ n: 4, accuracy: 0.75 });
    expect(k.bins[9]?.confidence).toBeCloseTo(0.95, 12);
    expect(k.bins[5]).toMatchObject({ n: 2, accuracy: 0.5 });
    expect(k.ece).toBeCloseTo((4 / 6) * Math.abs(0.75 - 0.95) + (2 / 6) * Math.abs(0.5 - 0.55), 12);
    expect(k.confidentlyWrong).toBeCloseTo(1 / 6, 12); // one failed answer at ≥ 0.9
    expect(k.abstention).toBeCloseTo(1 / 6, 12);
    expect(k.riskCoverage.find((x) => x.coverage === 0.5)).toMatchObject({ n: 3, accuracy: 1 });
    expect(k.riskCoverage.at(-1)).toMatchObject({ n: 6, accuracy: 4 / 6 });
  });

  it("chooses the confidence threshold on dev: the lowest level above which 95% of dev answers are right", () => {
    const dev = [rec(0.99, true), rec(0.97, true), rec(0.93, true), rec(0.9, false), rec(0.85, true), rec(0.6, false)];
    expect(thresholdOnDev(dev)).toBe(0.93); // 3/3 at ≥ 0.93; 3/4 at ≥ 0.9
    expect(thresholdOnDev(dev, 0.7)).toBe(0.85); // 4/5 ≥ 0.7; 4/6 is not
    expect(thresholdOnDev([rec(0.9, false)])).toBe(1);
    const k = calibration([rec(0.95, false), rec(0.92, false)], 0.93, "chosen on dev run d");
    expect(k?.confidentlyWrong).toBeCloseTo(0.5, 12);
    expect(k?.thresholdSource).toBe("chosen on dev run d");
  });

  it("without token probabilities the confidence figures are absent, not guessed; abstention still counts", () => {
    const k = calibration([{ ...rec(0.5, true), confidence: undefined } as RunRecord, { ...rec(0.5, false, "no idea"), confidence: undefined } as RunRecord]);
    expect(k).toMatchObject({ n: 0, ece: null, meanConfidence: null, confidentlyWrong: null, abstention: 0.5 });
    expect(calibration([])).toBeNull();
  });

  it("a suite's own abstain patterns replace the built-in ones", () => {
    expect(abstains("¯\\_(ツ)_/¯ pass")).toBe(false);
    expect(abstains("PASS on this one", ["^pass\\b"])).toBe(true);
    expect(abstains("I don't know", ["^pass\\b"])).toBe(false);
    expect(abstains("I don't know")).toBe(true);
  });
});

describe("calibration on the arith checkpoints (node-llama-cpp token probabilities)", () => {
  it("records each output's token log-probabilities; the better checkpoint is better calibrated and its confident answers are right", () => {
    const out = tempDir("heldout-calibration-");
    const r = heldout(["run", "--model", "models/arith-step300.yaml", "--model", "models/arith-step1500.yaml", "--out", out, "--run-id", "k", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const records = readJsonl<RunRecord>(join(out, "k", "records.jsonl"));
    for (const x of records) {
      expect(x.confidence?.tokens).toBe(x.completionTokens);
      expect(x.confidence?.meanLogprob).toBeLessThanOrEqual(0);
      expect(x.confidence?.minLogprob).toBeLessThanOrEqual(x.confidence?.meanLogprob as number);
    }
    const [weak, strong] = (JSON.parse(r.stdout) as Summary).cells.map((c) => c.calibration as NonNullable<Summary["cells"][0]["calibration"]>);
    expect(strong?.ece as number).toBeLessThan(weak?.ece as number);
    // Setting aside the least confident half lifts step300 from ~0.73 to well above it.
    const half = weak?.riskCoverage.find((x) => x.coverage === 0.5)?.accuracy as number;
    expect(half).toBeGreaterThan((weak?.riskCoverage.at(-1)?.accuracy as number) + 0.15);
    const show = heldout(["show", join(out, "k")]);
    expect(show.stdout).toMatch(/calibration \(confidence = geometric-mean token probability of the output\):\n {2}arith-step300@\w+: mean confidence 0\.\d{3}, ECE 0\.\d{3}, confidently wrong \(≥ 0\.9\) \d+\.\d%/);
  });
});
