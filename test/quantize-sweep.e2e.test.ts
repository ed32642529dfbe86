import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { llamaToolsDir } from "../src/backends/llama-tools.js";
import type { QuantizationFile } from "../src/weights/quantize-sweep.js";
import { quantizedVariant } from "../src/weights/quantize.js";
import { heldout, SHARED_MODELS, tempDir } from "./helpers/cli.js";

// The acceptance: arith-step1500 (F32) over q8_0, q5_0, q4_0 and a K type the shapes
// cannot take (rows of 128), on the demo suite. Needs llama-quantize and llama-perplexity
// (bash bench/build-llama-tools.sh; .ci/run builds them).
const tools = llamaToolsDir();
const built = tools !== null && existsSync(join(tools, "llama-quantize")) && existsSync(join(tools, "llama-perplexity"));

describe.skipIf(!built)("heldout quantize-sweep on arith-step1500", () => {
  const out = tempDir();
  let q: QuantizationFile;
  let stdout = "";
  beforeAll(() => {
    const r = heldout(["quantize-sweep", "--model", "models/arith-step1500.yaml", "--types", "q8_0,q5_0,q4_0,q4_k_m", "--out", out, "--run-id", "sweep", "-q"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    stdout = r.stdout;
    q = JSON.parse(readFileSync(join(out, "sweep", "quantization.json"), "utf8")) as QuantizationFile;
  }, 600_000);

  it("measures KL divergence rising as bits fall, and q8_0 keeps the top-1 token ≥ 99% of the time", () => {
    const kld = (type: string) => q.variants.find((v) => v.type === type)?.divergence.meanKld as number;
    expect(kld("q8_0")).toBeGreaterThan(0);
    expect(kld("q8_0")).toBeLessThan(kld("q5_0"));
    expect(kld("q5_0")).toBeLessThan(kld("q4_0"));
    const q8 = q.variants.find((v) => v.type === "q8_0");
    expect(q8?.divergence.top1Agreement).toBeGreaterThanOrEqual(0.99);
    expect(q8?.divergence.p99Kld).toBeGreaterThanOrEqual(q8?.divergence.meanKld as number);
    // Every task with its answer: positions = answer tokens + 1 per task.
    expect(q.suite.scoredTasks).toBe(1000);
    expect(q.suite.positions).toBeGreaterThan(3000);
    // Perplexity of the expected answers: near 1 for a model that scores 0.99, and no lower quantized.
    expect(q.reference.answerPerplexity).toBeGreaterThan(1);
    expect(q.reference.answerPerplexity).toBeLessThan(1.1);
  });

  it("agrees with llama-perplexity's KLD on the same windows within its stated error", () => {
    const c = q.crossCheck;
    expect(c?.type).toBe("q4_0");
    expect(c?.agrees).toBe(true);
    const stated = c?.llamaPerplexity.meanKldError as number;
    // Against the reference llama-perplexity stored, and against heldout's own full-precision one.
    expect(Math.abs((c?.sameReference.meanKld as number) - (c?.llamaPerplexity.meanKld as number))).toBeLessThanOrEqual(stated);
    expect(Math.abs((c?.heldout.meanKld as number) - (c?.llamaPerplexity.meanKld as number))).toBeLessThanOrEqual(stated);
    // Both read the source's distributions at the same positions alike (a one-position shift gives ~0.9).
    expect(c?.referenceAgreement).toBeLessThan(1e-4);
    expect(c?.positions).toBe((c?.windows as number) * 31);
  });

  it("gives every variant a paired pass-rate verdict against the source, size, speed and memory", () => {
    expect(q.rows.map((r) => r.name)).toEqual(["source", "q8_0", "q5_0", "q4_0", "q4_k_m"]);
    for (const r of q.rows.slice(1)) {
      expect(r.verdict?.tasks).toBe(1000);
      expect(r.verdict?.verdict).toMatch(/./);
      expect(r.verdict?.pAdjusted).not.toBeNull();
      expect(r.sizeBytes).toBeLessThan((q.rows[0] as { sizeBytes: number }).sizeBytes);
      expect(r.generationTokensPerSecond).toBeGreaterThan(0);
      expect(r.peakRssBytes).toBeGreaterThan(0);
    }
    expect(q.frontier).toContain("source");
    expect(q.recommendation).toMatch(/is the smallest variant with no detectable loss on arith|Every variant lost/);
  });

  it("says which tensors the K type's blocks could not take, and what they got", () => {
    const k = q.variants.find((v) => v.type === "q4_k_m");
    expect(k?.shapeFallbacks.map((s) => s.tensor)).toContain("output.weight");
    expect(k?.shapeFallbacks.every((s) => s.rowLength % 256 !== 0 && !s.got.endsWith("_k"))).toBe(true);
    expect(k?.fallbackCount).toBeGreaterThan(0);
    expect(Object.keys(k?.tensorTypes ?? {})).not.toContain("q4_k");
  });

  it("prints the table and recommendation, and the report has the table and the size-vs-quality plots", () => {
    expect(stdout).toMatch(/variant\s+size\s+mean KLD ± se/);
    expect(stdout).toMatch(/Cross-check against llama-perplexity --kl-divergence \(q4_0.*They agree within its stated error\./);
    const html = readFileSync(join(out, "sweep", "report.html"), "utf8");
    expect(html).toContain('id="quantization-table"');
    expect(html).toContain('data-plot="quant-size-kld"');
    expect(html).toContain('data-plot="quant-size-pass"');
    expect(html).toMatch(/class="frontier"/);
  });

  it("takes a variant from the cache the second time", async () => {
    const v = q.variants.find((x) => x.type === "q8_0");
    const again = await quantizedVariant(join(SHARED_MODELS, "arith/arith-step1500.gguf"), q.source.sha256, "q8_0", 1);
    expect(again.cached).toBe(true);
    expect(again.path).toBe(v?.path);
    expect(again.sizeBytes).toBe(v?.sizeBytes);
  });

  it("rejects a type llama-quantize does not know, naming it", () => {
    const r = heldout(["quantize-sweep", "--model", "models/arith-step1500.yaml", "--types", "q9_9", "--out", tempDir(), "-q"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/llama-quantize could not make q9_9/);
  });
});
