import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { llamaBenchArgs, parseLlamaBenchJson } from "../src/check/llama-bench.js";
import { decide, DEFAULT_RULE, meanInterval, tQuantile } from "../src/stats/repetitions.js";
import { burstGenerations, engineFigures, eosCountedCorrection, generationGap, requestOverhead, promptGap, telescope, warmUpEffect, type CellFacts, type Reconciliation } from "../src/check/throughput.js";
import { percentile } from "../src/core/percentile.js";
import type { RunRecord } from "../src/core/types.js";
import { heldout, readJsonl, tempDir } from "./helpers/cli.js";
import { llamaToolsBin } from "./helpers/llama-server.js";

/**
 * `heldout check throughput`: real runs of stories260K on tasks/tinystories through the embedded
 * engine and through llama-server (so the engine's own timings exist), reconciled against a real
 * llama-bench; plus the stopping rule and the gap arithmetic on their own.
 */

const dir = tempDir("heldout-throughput-");
const sumMs = (r: { terms: { ms: number }[] }) => r.terms.reduce((s, t) => s + t.ms, 0);

function check(args: string[]): Reconciliation {
  const r = heldout(["check", "throughput", ...args, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Reconciliation;
}

describe("heldout check throughput on real runs", () => {
  beforeAll(() => {
    llamaToolsBin(); // builds llama-bench and llama-server if this machine has none yet
    for (const [id, extra] of [["embedded", []], ["server", ["--engine", "llama-server"]]] as const) {
      const r = heldout(["run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", ...extra, "--out", dir, "--run-id", id, "-q"]);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 900_000);

  it("puts the embedded engine beside llama-bench (no engine figure) and accounts for the gap", () => {
    const rec = check([join(dir, "embedded"), "--ci-width", "10", "--max-reps", "12"]);
    const records = readJsonl<RunRecord>(join(dir, "embedded", "records.jsonl"));
    expect(rec.facts.engine).toBe("embedded");
    expect(rec.facts.threads).toBe(1);
    expect(rec.rows.map((r) => r.source)).toEqual(["client", "engine", "llama-bench"]);
    const [client, engine, bench] = rec.rows;
    // The client's figures are the run's own medians.
    expect(client?.generation?.value).toBeCloseTo(percentile(records.map((r) => r.generationTokensPerSecond ?? NaN), 50) as number, 6);
    expect(client?.generation?.low).toBeLessThanOrEqual(client?.generation?.value as number);
    expect(engine?.generation).toBeNull();
    expect(engine?.note).toMatch(/node-llama-cpp reports no timings/);
    // llama-bench ran at the cell's median lengths and thread count, within the repetition limits.
    expect(rec.bench.reason).toBeNull();
    expect(rec.bench.pp?.test).toEqual({ kind: "pp", tokens: rec.lengths?.promptMedian, depth: 0 });
    expect(rec.bench.tg?.test).toEqual({ kind: "tg", tokens: rec.lengths?.completionMedian, depth: rec.lengths?.promptMedian });
    for (const b of [rec.bench.pp, rec.bench.tg]) {
      expect(b?.reps).toBeGreaterThanOrEqual(DEFAULT_RULE.minReps);
      expect(b?.reps).toBeLessThanOrEqual(12);
      if (b?.stopped === "converged") expect(bench?.generation?.halfWidthPercent ?? 0).toBeLessThanOrEqual(100);
    }
    expect(rec.bench.commands[1]).toEqual(expect.arrayContaining(["-t", "1", "-n", String(rec.lengths?.completionMedian), "-d", String(rec.lengths?.promptMedian)]));
    expect(bench?.generation?.value).toBeGreaterThan(0);
    // Two terms (llama-bench, client − llama-bench) that add up to the client's ms per token.
    const g = rec.gaps.generation;
    expect(g?.terms).toHaveLength(2);
    expect(g?.total.ms).toBeCloseTo(1000 / (client?.generation?.value as number), 9);
    expect(sumMs(g as { terms: { ms: number }[] })).toBeCloseTo(g?.total.ms as number, 9);
    expect(g?.terms[0]?.ms).toBeCloseTo(1000 / (bench?.generation?.value as number), 9);
    // Prompt: llama-bench's pp time plus the rest adds up to the median TTFT.
    const p = rec.gaps.prompt;
    expect(p?.total.ms).toBeCloseTo(percentile(records.map((r) => r.ttftMs ?? NaN), 50) as number, 9);
    expect(sumMs(p as { terms: { ms: number }[] })).toBeCloseTo(p?.total.ms as number, 9);
    expect(rec.warmUp?.first).toBe(5);
    expect(rec.warmUp?.rest).toBe(35);
  });

  it("puts llama-server's own timings between the client and llama-bench, and the three terms add up", () => {
    const rec = check([join(dir, "server"), "--ci-width", "10", "--max-reps", "12"]);
    const records = readJsonl<RunRecord>(join(dir, "server", "records.jsonl"));
    expect(rec.facts.engine).toBe("llama-server");
    expect(rec.facts.threads).toBe(1);
    const [client, engine, bench] = rec.rows;
    expect(engine?.label).toBe("llama-server's own timings");
    expect(engine?.generation?.value).toBeCloseTo(percentile(records.map((r) => r.serverTimings?.predicted_per_second ?? NaN).filter((v) => v > 0), 50) as number, 6);
    expect(engine?.prompt?.n).toBe(40);
    // tinystories stops at its 8-token limit, never at end-of-sequence: no count to correct.
    expect(rec.eosCounted).toBeNull();
    // Per request: the client's latency against the engine's own prompt_ms + predicted_ms.
    expect(rec.request?.generations).toBe(40);
    expect(rec.request?.latencyMedian).toBeCloseTo(percentile(records.map((r) => r.latencyMs), 50) as number, 9);
    expect(rec.request?.outsideMedian).toBeGreaterThan(0);
    expect(rec.bursts?.of).toBe(40);
    expect(bench?.prompt?.value).toBeGreaterThan(0);
    const g = rec.gaps.generation;
    expect(g?.terms).toHaveLength(3);
    expect(g?.terms.map((t) => t.formula)).toEqual([
      expect.stringMatching(/^llama-bench /),
      expect.stringMatching(/^llama-server .* − llama-bench /),
      expect.stringMatching(/^client .* − llama-server /),
    ]);
    expect(sumMs(g as { terms: { ms: number }[] })).toBeCloseTo(1000 / (client?.generation?.value as number), 9);
    expect((g?.terms[0]?.ms as number) + (g?.terms[1]?.ms as number)).toBeCloseTo(1000 / (engine?.generation?.value as number), 9);
    const p = rec.gaps.prompt;
    expect(p?.terms).toHaveLength(3);
    expect(sumMs(p as { terms: { ms: number }[] })).toBeCloseTo(percentile(records.map((r) => r.ttftMs ?? NaN), 50) as number, 9);
    expect((p?.terms[0]?.ms as number) + (p?.terms[1]?.ms as number)).toBeCloseTo(percentile(records.map((r) => r.serverTimings?.prompt_ms ?? NaN), 50) as number, 9);
  });

  it("prints the three sources, the decomposition and the warm-up effect as text", () => {
    const r = heldout(["check", "throughput", join(dir, "server"), "--ci-width", "20", "--max-reps", "6"]);
    expect(r.code, r.stderr).toBe(0);
    for (const text of ["heldout (client side)", "llama-server's own timings", "llama-bench pp", "Generation, ms per generated token", "Prompt, ms per generation", "Warm-up: the first 5 generations", "95% t interval"]) {
      expect(r.stdout).toContain(text);
    }
  });

  it("without llama-bench still reconciles the client with the engine, and says why the third source is missing", () => {
    const rec = check([join(dir, "server"), "--no-bench"]);
    expect(rec.rows[2]?.generation).toBeNull();
    expect(rec.bench.reason).toMatch(/--no-bench/);
    expect(rec.gaps.generation?.terms).toHaveLength(2);
    const none = check([join(dir, "embedded"), "--no-bench"]);
    expect(none.gaps.generation).toBeNull();
  });

  it("refuses bad options and unknown runs with exit 2", () => {
    expect(heldout(["check", "throughput", join(dir, "server"), "--ci-width", "0"]).code).toBe(2);
    expect(heldout(["check", "throughput", join(dir, "server"), "--max-reps", "2.5"]).code).toBe(2);
    expect(heldout(["check", "throughput", join(dir, "no-such-run")]).code).toBe(2);
  });
});

describe("the repetition rule", () => {
  it("has Student's t quantiles to four decimals", () => {
    for (const [df, q] of [[1, 12.7062], [2, 4.3027], [4, 2.7764], [9, 2.2622], [29, 2.0452], [1000, 1.9623]] as const) {
      expect(tQuantile(0.975, df)).toBeCloseTo(q, 4);
    }
    expect(tQuantile(0.025, 9)).toBeCloseTo(-2.2622, 4);
    expect(tQuantile(0.95, 10)).toBeCloseTo(1.8125, 4);
  });

  it("gives the mean's t interval", () => {
    const i = meanInterval([10, 12, 11, 13, 9]);
    expect(i?.mean).toBe(11);
    expect(i?.sd).toBeCloseTo(Math.sqrt(2.5), 12);
    expect(i?.halfWidth).toBeCloseTo((2.7764451 * Math.sqrt(2.5)) / Math.sqrt(5), 6);
    expect(meanInterval([5])?.halfWidth).toBeNull();
    expect(meanInterval([])).toBeNull();
  });

  it("stops when the interval is narrow enough, or at the maximum, and otherwise asks for a sized next round", () => {
    const rule = { ...DEFAULT_RULE, ciWidthPercent: 5, maxReps: 30 };
    expect(decide([], rule)).toMatchObject({ stop: false, nextReps: 5 });
    expect(decide([100], rule)).toMatchObject({ stop: false, nextReps: 2 });
    // ±0.6%: stops.
    expect(decide([100, 101, 99, 100, 100], rule)).toMatchObject({ stop: true, reason: "converged" });
    // sd 10 on mean 100 with n = 5: t·sd/√n ≈ 12.4%; n* = (2.776·10/5)² ≈ 31 → next round capped at doubling (5).
    const wide = [90, 110, 100, 90, 110];
    const d = decide(wide, rule);
    expect(d).toMatchObject({ stop: false, nextReps: 5 });
    // Near the target, only the few more it needs.
    // sd 8.165, n = 10: ±5.8%; n* = (2.262·8.165/5)² ≈ 13.6 → 4 more.
    expect(decide([100, 110, 90, 100, 110, 90, 100, 110, 90, 100], rule)).toMatchObject({ stop: false, nextReps: 4 });
    // Never past the maximum, and stops there.
    const wider = [50, 150, 100, 50, 150];
    expect(decide([...wider, ...wider, ...wider, ...wider, ...wider, 50, 150, 100], rule)).toMatchObject({ stop: false, nextReps: 2 });
    expect(decide([...wider, ...wider, ...wider, ...wider, ...wider, ...wider], rule)).toMatchObject({ stop: true, reason: "max-reps" });
    // Identical samples: zero width, stops once the minimum is reached.
    expect(decide([7, 7], rule).stop).toBe(false);
    expect(decide([7, 7, 7], rule)).toMatchObject({ stop: true, reason: "converged" });
    expect(() => decide([1], { ...rule, ciWidthPercent: 0 })).toThrow(RangeError);
  });
});

describe("the gap arithmetic", () => {
  const facts = (engine: CellFacts["engine"]): CellFacts => ({
    cellId: "m@x",
    modelId: "m",
    engine,
    engineLabel: engine,
    modelPath: "/m.gguf",
    modelSha256: null,
    threads: 1,
    parallel: 1,
    flashAttention: false,
    batchSize: null,
    kvCacheType: null,
    gpuLayers: 0,
    binary: null,
    cpuVariant: null,
  });
  const tg = { kind: "tg" as const, tokens: 8, depth: 16 };
  const pp = { kind: "pp" as const, tokens: 16, depth: 0 };

  it("splits a server's generation gap into llama-bench, inside the engine and outside it, in ms per token", () => {
    // client 4,000 tok/s = 0.25 ms; engine 5,000 = 0.2 ms; llama-bench 8,000 = 0.125 ms.
    const g = generationGap(facts("llama-server"), 4000, 5000, 8000, tg);
    expect(g?.terms.map((t) => t.ms)).toEqual([0.125, expect.closeTo(0.075, 12), expect.closeTo(0.05, 12)]);
    expect(g?.terms.map((t) => t.share)).toEqual([0.5, expect.closeTo(0.3, 12), expect.closeTo(0.2, 12)]);
    expect(g?.total).toEqual({ label: "client", ms: 0.25 });
    expect(g?.terms[1]?.formula).toBe("llama-server 0.2000 − llama-bench 0.1250");
  });

  it("has one term beyond llama-bench for the embedded engine, and none without a reference", () => {
    const g = generationGap(facts("embedded"), 2500, null, 5000, tg);
    expect(g?.terms.map((t) => t.ms)).toEqual([0.2, 0.2]);
    expect(g?.terms[1]?.label).toMatch(/evaluate loop/);
    expect(generationGap(facts("embedded"), 2500, null, null, tg)).toBeNull();
    expect(generationGap(facts("embedded"), null, null, 5000, tg)).toBeNull();
  });

  it("splits the prompt phase in ms per generation: llama-bench's pp time, the engine's prompt_ms, the client's TTFT", () => {
    // pp16 at 16,000 tok/s = 1 ms; prompt_ms 1.2; TTFT 3.
    const p = promptGap(facts("llama-server"), 3, 1.2, 16000, pp);
    expect(p?.terms.map((t) => t.ms)).toEqual([1, expect.closeTo(0.2, 12), expect.closeTo(1.8, 12)]);
    expect(p?.total.ms).toBe(3);
  });

  it("adds up whatever the levels (telescoping)", () => {
    const t = telescope("ms", [
      { name: "a", ms: 0.3, term: "a" },
      { name: "b", ms: 0.1, term: "b − a" },
      { name: "c", ms: 0.7, term: "c − b" },
    ]);
    expect(sumMs(t as { terms: { ms: number }[] })).toBeCloseTo(0.7, 12);
    expect(t?.terms[1]?.ms).toBeCloseTo(-0.2, 12);
  });

  it("reads llama-server's timings and Ollama's durations", () => {
    const base = { serverTimings: null } as unknown as RunRecord;
    expect(engineFigures(base)).toBeNull();
    const server = engineFigures({ ...base, serverTimings: { cache_n: 1, prompt_n: 15, prompt_ms: 1, prompt_per_second: 15000, predicted_n: 8, predicted_ms: 1.4, predicted_per_second: 5000 } });
    expect(server).toEqual({ source: "llama-server", promptTps: 15000, generationTps: 5000, promptMs: 1, promptEvaluated: 15, promptCached: 1, totalMs: 2.4, generationMs: 1.4, generationSteps: 7 });
    const ollama = engineFigures({ ...base, serverTimings: { prompt_eval_count: 20, prompt_eval_duration: 4, eval_count: 50, eval_duration: 100, load_duration: 1, total_duration: 110 } });
    expect(ollama).toMatchObject({ source: "ollama", promptTps: 5000, generationTps: 500, promptMs: 4, totalMs: 104 });
  });

  it("spots a server's completion count that includes end-of-sequence, and rescales the client's rate without it", () => {
    const rec = (n: number, finishReason: string, predicted: number) => ({ finishReason, completionTokens: n, generationTokensPerSecond: n >= 2 ? 1000 : null, serverTimings: { predicted_n: predicted } }) as unknown as RunRecord;
    // 4 counted (3 streamed tokens, 2 intervals): 1000 · 2/3; 2 counted: one streamed token, no rate; maxTokens and a count without EOS are left alone.
    const c = eosCountedCorrection([rec(4, "eos", 4), rec(4, "eos", 4), rec(2, "eos", 2), rec(8, "maxTokens", 8), rec(3, "eos", 4)]);
    expect(c?.generations).toBe(3);
    expect(c?.correctedGenerationMedian).toBeCloseTo(1000 * (2 / 3) + (1000 - 1000 * (2 / 3)) / 2, 9);
    expect(eosCountedCorrection([rec(3, "eos", 4), rec(8, "maxTokens", 8)])).toBeNull();
  });

  it("measures the per-request cost outside a server, and spots tokens that reached the client in bursts", () => {
    // 8 tokens, 7 steps: the engine took 1.4 ms for them (0.2 ms a step); the client saw them over 1.4 ms, then over 0.35 ms.
    const rec = (gps: number, latencyMs: number) =>
      ({ finishReason: "maxTokens", completionTokens: 8, generationTokensPerSecond: gps, latencyMs, serverTimings: { prompt_ms: 1, predicted_n: 8, predicted_ms: 1.4, predicted_per_second: 5000 } }) as unknown as RunRecord;
    const records = [rec(5000, 4), rec(5000, 5), rec(20000, 6)];
    expect(burstGenerations(records)).toEqual({ bursts: 1, of: 3 });
    expect(requestOverhead(records)).toEqual({ generations: 3, latencyMedian: 5, engineMedian: 2.4, outsideMedian: expect.closeTo(2.6, 12) });
    expect(requestOverhead([{ ...rec(5000, 4), serverTimings: null } as RunRecord])).toBeNull();
  });

  it("compares the first generations with the rest", () => {
    const rec = (i: number) => ({ finishReason: "maxTokens", error: null, generationTokensPerSecond: i < 5 ? 1000 : 2000, ttftMs: i < 5 ? 2 : 1 }) as unknown as RunRecord;
    const w = warmUpEffect(Array.from({ length: 15 }, (_, i) => rec(i)), facts("embedded"));
    expect(w).toMatchObject({ first: 5, rest: 10, firstGenerationMedian: 1000, restGenerationMedian: 2000, firstTtftMedian: 2, restTtftMedian: 1, medianShiftPercent: 0 });
    expect(warmUpEffect(Array.from({ length: 9 }, (_, i) => rec(i)), facts("embedded"))).toBeNull();
  });

  it("builds llama-bench's command line from the cell's settings and reads its JSON", () => {
    const args = llamaBenchArgs({ modelPath: "/m.gguf", threads: 2, flashAttention: true, batchSize: 256, kvCacheType: "q8_0", gpuLayers: 0 }, tg, 5);
    expect(args.join(" ")).toBe("-m /m.gguf -p 0 -n 8 -d 16 -t 2 -fa on -ngl 0 -b 256 -ctk q8_0 -ctv q8_0 -r 5 -o json");
    const parsed = parseLlamaBenchJson('[{"n_prompt":0,"n_gen":8,"n_depth":16,"n_threads":2,"avg_ts":5000,"samples_ts":[4900,5100],"build_commit":"de3ff81"}]');
    expect(parsed[0]).toEqual({ n_prompt: 0, n_gen: 8, n_depth: 16, n_threads: 2, avg_ts: 5000, samples_ts: [4900, 5100], build_commit: "de3ff81" });
  });
});
