import { describe, expect, it } from "vitest";
import { compareOutputs, describeAgreement, formatDifference } from "../src/check/agreement.js";
import type { RunRecord } from "../src/core/types.js";

/** The comparison behind `check determinism` and `reproduce`, on recorded outputs. */

const rec = (taskId: string, output: string, pass: boolean, extra: Partial<RunRecord> = {}): RunRecord => ({
  runId: "r", cellId: "c", modelId: "m", suiteHash: "h", taskId, area: null, sample: 0, prompt: "p", promptTokenIds: [], output,
  promptTokens: 1, completionTokens: 1, finishReason: "eos", ttftMs: 1, latencyMs: 2, promptTokensPerSecond: 1, generationTokensPerSecond: 1,
  score: { pass, value: pass ? 1 : 0, reason: "" }, error: null, errorKind: null, endpoint: null, attempts: 1, serverTimings: null, ...extra,
});

describe("compareOutputs", () => {
  const baseline = [rec("t1", "61", true), rec("t2", "92", true), rec("t3", "15", false), rec("t4", "Lily", true), rec("t5", "x", true)];
  const variant = [rec("t1", "61", true), rec("t2", "93", false), rec("t3", "51", true), rec("t4", "Lily went", true), rec("t6", "y", true)];

  it("counts identical and differing outputs and the verdict flips in each direction", () => {
    const x = compareOutputs(baseline, variant);
    expect(x).toMatchObject({ compared: 4, identical: 1, differing: 3, passToFail: 1, failToPass: 1, missing: 2 });
    expect(x.differingShare).toBeCloseTo(0.75, 12);
    // Verdict flips first among the examples.
    expect(x.examples.map((e) => e.taskId)).toEqual(["t2", "t3", "t4"]);
    expect(describeAgreement(x)).toBe("3 of 4 outputs differ (75.0%); 2 change the verdict (1 pass→fail, 1 fail→pass); 2 not compared (missing or errors)");
  });

  it("matches samples by (task, sample) and leaves errors out of the comparison", () => {
    const a = [rec("t1", "a", true, { sample: 0 }), rec("t1", "b", true, { sample: 1 }), rec("t2", "", false, { error: "boom", finishReason: "error" })];
    const b = [rec("t1", "b", true, { sample: 1 }), rec("t1", "a", true, { sample: 0 }), rec("t2", "z", true)];
    expect(compareOutputs(a, b)).toMatchObject({ compared: 2, identical: 2, differing: 0, missing: 1 });
    expect(describeAgreement(compareOutputs(a, b))).toBe("0 of 2 outputs differ (0.0%); 1 not compared (missing or errors)");
  });

  it("shows an example from its first differing character, escaped", () => {
    const [d] = compareOutputs([rec("t9", `${"a".repeat(200)}X\nend`, true)], [rec("t9", `${"a".repeat(200)}Y\nend`, false)]).examples;
    const text = formatDifference(d as NonNullable<typeof d>, ["1 sequence", "8 sequences"], 60);
    expect(text).toMatch(/^t9, first difference at character 200:/);
    expect(text).toMatch(/1 sequence \[pass\]: …a+X\\nend$/m);
    expect(text).toMatch(/8 sequences \[fail\]: …a+Y\\nend$/m);
  });

  it("says when there is nothing to compare", () => {
    expect(describeAgreement(compareOutputs([], []))).toMatch(/^nothing to compare/);
  });
});
