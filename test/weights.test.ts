import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baseDistributions, parseKldLog, readBaseWindows, scoredPositions } from "../src/weights/perplexity-kld.js";
import { DivergenceAccumulator, klDivergence, perplexity } from "../src/core/divergence.js";
import { kldFrontier, noDetectableLoss, recommendation, type SweepRow } from "../src/core/quant-sweep.js";
import type { PairedComparison } from "../src/stats/paired.js";
import { parseAblations } from "../src/weights/ablate.js";
import { ablatedTensors, ablationName, blockCount } from "../src/weights/ablated-gguf.js";
import type { TensorEntry } from "../src/weights/gguf-tensors.js";
import { baseType } from "../src/weights/quantize.js";

const logs = (ps: number[]) => Float32Array.from(ps.map(Math.log));

describe("KL divergence and top-1 agreement", () => {
  it("is zero for identical distributions and matches a hand computation", () => {
    expect(klDivergence(logs([0.5, 0.25, 0.25]), logs([0.5, 0.25, 0.25]))).toBe(0);
    // KL([0.5, 0.5] ‖ [0.9, 0.1]) = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1)
    expect(klDivergence(logs([0.5, 0.5]), logs([0.9, 0.1]))).toBeCloseTo(0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(5), 6);
    // A token the reference never emits contributes nothing.
    expect(klDivergence(Float32Array.from([0, Number.NEGATIVE_INFINITY]), logs([0.5, 0.5]))).toBeCloseTo(Math.log(2), 6);
  });

  it("accumulates mean, standard error, p99 and top-1 agreement over positions", () => {
    const acc = new DivergenceAccumulator();
    acc.add(logs([0.7, 0.3]), logs([0.7, 0.3]));
    acc.add(logs([0.7, 0.3]), logs([0.4, 0.6]));
    const s = acc.stats();
    const k = klDivergence(logs([0.7, 0.3]), logs([0.4, 0.6]));
    expect(s.positions).toBe(2);
    expect(s.meanKld).toBeCloseTo(k / 2, 6);
    expect(s.maxKld).toBeCloseTo(k, 6);
    expect(s.top1Agreement).toBe(0.5);
    expect(s.meanKldStdErr).toBeCloseTo(Math.sqrt(((k / 2) ** 2 * 2) / 1 / 2), 6);
    expect(perplexity(2 * Math.log(0.5), 2)).toBeCloseTo(2, 9);
    // Positions of one text are one cluster: the standard error is taken over texts.
    const clustered = new DivergenceAccumulator();
    clustered.add(logs([0.7, 0.3]), logs([0.4, 0.6]), "a");
    clustered.add(logs([0.7, 0.3]), logs([0.4, 0.6]), "a");
    clustered.add(logs([0.7, 0.3]), logs([0.7, 0.3]), "b");
    clustered.add(logs([0.7, 0.3]), logs([0.7, 0.3]), "b");
    const c = clustered.stats();
    // mean k/2; cluster sums 2k and 0 around 2·(k/2) = k: Σ = 2k²; √(2/1 · 2k²) / 4 = k/2.
    expect(c.meanKldStdErr).toBeCloseTo(k / 2, 6);
    // A floor leaves out reference tokens at or below it (llama-perplexity's −16).
    expect(klDivergence(Float32Array.from([0, -20]), Float32Array.from([Math.log(0.5), Math.log(0.5)]), -16)).toBeCloseTo(Math.log(2), 6);
    expect(new DivergenceAccumulator().stats().meanKld).toBeNull();
  });
});

const verdict = (difference: number, significant: boolean, p = significant ? 0.001 : 0.5): PairedComparison => ({
  names: { a: "source", b: "v" },
  tasks: 1000,
  onlyInA: [],
  onlyInB: [],
  passA: 0.99,
  passB: 0.99 + difference,
  difference,
  low: difference - 0.01,
  high: difference + 0.01,
  confidence: 0.95,
  aWins: 0,
  bWins: 0,
  ties: 1000,
  pValue: p,
  pAdjusted: p,
  alpha: 0.05,
  power: 0.8,
  mdd: 0.012,
  mddMethod: "paired",
  significant,
  verdict: significant ? "B is worse" : "no detectable difference",
});
const row = (name: string, sizeBytes: number, meanKld: number | null, v: PairedComparison | null): SweepRow => ({
  name,
  sizeBytes,
  divergence: meanKld === null ? null : { positions: 10, meanKld, meanKldStdErr: 0, medianKld: 0, p99Kld: 0, maxKld: 0, top1Agreement: 1, top1StdErr: 0, areas: {} },
  answerPerplexity: 1,
  passRate: 0.99 + (v?.difference ?? 0),
  passRateInterval: null,
  verdict: v,
  generationTokensPerSecond: 100,
  peakRssBytes: 1,
});

describe("quantization sweep verdicts", () => {
  const rows = [row("source", 4e6, null, null), row("q8_0", 1e6, 0.0001, verdict(0, false)), row("q5_0", 7e5, 0.002, verdict(-0.002, false)), row("q4_k_m", 7.5e5, 0.003, verdict(-0.003, false)), row("q4_0", 6e5, 0.01, verdict(-0.05, true))];

  it("puts on the size–KLD frontier only variants no other beats on both", () => {
    expect(kldFrontier(rows)).toEqual(["source", "q8_0", "q5_0", "q4_0"]);
    // A variant whose scoring failed is off the frontier, however small.
    expect(kldFrontier([...rows, row("q2_k", 5e5, null, verdict(-0.1, true))])).toEqual(["source", "q8_0", "q5_0", "q4_0"]);
  });

  it("recommends the smallest variant without a significant loss and names the smaller ones that lost", () => {
    expect(noDetectableLoss(rows[4] as SweepRow)).toBe(false);
    const text = recommendation(rows, "arith");
    expect(text).toMatch(/^q5_0 is the smallest variant with no detectable loss on arith/);
    expect(text).toMatch(/q4_0 \(.*\) lost 5\.0 points \(p = 0\.001\)/);
    expect(recommendation([rows[0] as SweepRow, rows[4] as SweepRow], "arith")).toMatch(/^Every variant lost pass rate detectably/);
    // Pass rate held but the distributions moved: say so and name the closest safe variant.
    const moved = rows.map((r) => (r.name === "q5_0" && r.divergence ? { ...r, divergence: { ...r.divergence, top1Agreement: 0.9 } } : r));
    expect(recommendation(moved, "arith")).toMatch(/But its next-token choices moved: it agrees with the source's top token at 90\.0% of positions.*the smallest variant that agrees at ≥ 99\.0% is q4_k_m/);
    expect(text).not.toMatch(/next-token choices moved/);
  });

  it("maps file types to the block type their shapes must take", () => {
    expect(baseType("q4_k_m")).toBe("q4_k");
    expect(baseType("Q5_K_S")).toBe("q5_k");
    expect(baseType("q8_0")).toBe("q8_0");
  });
});

describe("llama-perplexity's KLD output and base file", () => {
  it("reads the mean with its error, the 99th percentile and the same-top share", () => {
    const log = [
      "chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p",
      "   1    1161106023.3540 ± 2305396508.9144       6.68500 ±    1.60137       0.14234 ±    0.12795     1.152 ±  0.506 %    96.774 ±  3.226 %",
      "   2    2236538124.9228 ± 3015464956.9423       6.84197 ±    1.16452       0.07118 ±    0.06410     0.814 ±  0.359 %    98.387 ±  1.613 %",
      "====== KL divergence statistics ======",
      "Mean    KLD:   0.043125 ±   0.004480",
      "Maximum KLD:   3.1",
      "99.9%   KLD:   1.2",
      "99.0%   KLD:   0.612300",
      "Same top p: 97.123 ± 0.250 %",
    ].join("\n");
    expect(parseKldLog(log)).toEqual({ meanKld: 0.043125, meanKldError: 0.00448, p99Kld: 0.6123, sameTop: 0.97123, sameTopError: 0.0025, runningMeans: [0.14234, 0.07118], runningErrors: [0.12795, 0.0641] });
    expect(() => parseKldLog("perplexity: failed")).toThrow(/no "Mean KLD" line/);
  });

  it("reads the token windows of a base file and scores the second half of each", () => {
    const b = Buffer.alloc(20 + 4 * 8);
    b.write("_logits_", 0, "latin1");
    b.writeUInt32LE(4, 8);
    b.writeInt32LE(512, 12);
    b.writeInt32LE(2, 16);
    [1, 2, 3, 4, 5, 6, 7, 8].forEach((t, i) => b.writeInt32LE(t, 20 + 4 * i));
    const file = join(mkdtempSync(join(tmpdir(), "heldout-kld-")), "base.kld");
    writeFileSync(file, b);
    expect(readBaseWindows(file)).toEqual({ contextSize: 4, vocabulary: 512, windows: [[1, 2, 3, 4], [5, 6, 7, 8]] });
    // Then per window, per scored position (n_ctx 4: position 2 only): scale, min, one uint16 per token.
    const vocab = 3;
    const nv = 2 * Math.floor((vocab + 1) / 2) + 4;
    const withLogProbs = Buffer.alloc(20 + 4 * 4 * 1 + nv * 2);
    withLogProbs.write("_logits_", 0, "latin1");
    withLogProbs.writeUInt32LE(4, 8);
    withLogProbs.writeInt32LE(vocab, 12);
    withLogProbs.writeInt32LE(1, 16);
    const at = 20 + 16;
    withLogProbs.writeFloatLE(0.5, at);
    withLogProbs.writeFloatLE(-16, at + 4);
    [32, 0, 30].forEach((q, i) => withLogProbs.writeUInt16LE(q, at + 8 + 2 * i));
    const file2 = join(mkdtempSync(join(tmpdir(), "heldout-kld-")), "base.kld");
    writeFileSync(file2, withLogProbs);
    expect([...baseDistributions(file2)].map((w) => w.map((p) => [...p]))).toEqual([[[0, -16, -1]]]);
    // n_ctx 64: positions 32…62, each predicting the next token (llama-perplexity's first = n_ctx/2).
    expect(scoredPositions(64)).toEqual({ first: 32, count: 31 });
  });
});

describe("ablation variants", () => {
  const t = (name: string): TensorEntry => ({ name, dims: [128, 128], type: "f32", fileOffset: 0, span: 4 });
  const tensors = ["token_embd.weight", "blk.0.attn_output.weight", "blk.0.ffn_down.weight", "blk.0.ffn_up.weight", "blk.1.attn_output.weight", "blk.1.attn_output.bias", "blk.1.ffn_down_exps.weight"].map(t);

  it("zeroes exactly the named blocks' output projections (with biases and experts)", () => {
    expect(blockCount(tensors)).toBe(2);
    expect(ablatedTensors(tensors, { blocks: [1], parts: ["attn"] }).map((x) => x.name)).toEqual(["blk.1.attn_output.weight", "blk.1.attn_output.bias"]);
    expect(ablatedTensors(tensors, { blocks: [0, 1], parts: ["ffn"] }).map((x) => x.name)).toEqual(["blk.0.ffn_down.weight", "blk.1.ffn_down_exps.weight"]);
    expect(ablatedTensors(tensors, { blocks: [], parts: [] })).toEqual([]);
    expect(ablationName({ blocks: [3], parts: ["attn", "ffn"] })).toBe("b3-attn+ffn");
    expect(ablationName({ blocks: [], parts: [] })).toBe("none");
  });

  it("parses --blocks and --parts into one variant per block and part, and rejects what the model lacks", () => {
    expect(parseAblations("all", "attn,ffn", 2)).toEqual([
      { blocks: [0], parts: ["attn"] },
      { blocks: [0], parts: ["ffn"] },
      { blocks: [1], parts: ["attn"] },
      { blocks: [1], parts: ["ffn"] },
    ]);
    expect(parseAblations("3", "attn+ffn", 4)).toEqual([{ blocks: [3], parts: ["attn", "ffn"] }]);
    expect(() => parseAblations("0,4", "attn", 4)).toThrow(/"4" is not a block of this model \(it has blocks 0–3\)/);
    expect(() => parseAblations("0", "mlp", 4)).toThrow(/"mlp" is not attn or ffn/);
    expect(() => parseAblations("1,", "attn", 4)).toThrow(/"" is not a block of this model/);
    expect(() => parseAblations("2, x", "attn", 4)).toThrow(/"x" is not a block/);
    // One variant per distinct combination, whatever the order written.
    expect(parseAblations("1,1", "ffn+attn,attn+ffn,attn,attn", 4)).toEqual([
      { blocks: [1], parts: ["attn", "ffn"] },
      { blocks: [1], parts: ["attn"] },
    ]);
  });
});
