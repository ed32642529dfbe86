import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { llamaToolPath } from "../backends/llama-tools.js";
import { decide, meanInterval, type MeanInterval, type RepetitionRule } from "../stats/repetitions.js";

/**
 * llama.cpp's own llama-bench (built from the source node-llama-cpp ships, by
 * bench/build-llama-tools.sh) on a cell's model file and settings, repeated in rounds until the
 * 95% interval of its mean tokens/s is as narrow as asked (src/stats/repetitions.ts).
 */

export interface LlamaBenchSettings {
  modelPath: string;
  threads: number;
  flashAttention: boolean;
  batchSize: number | null;
  kvCacheType: string | null;
  gpuLayers: number;
}

/** pp: `tokens` random prompt tokens from an empty cache; tg: `tokens` single-token decodes at context depth `depth`. */
export interface BenchTest {
  kind: "pp" | "tg";
  tokens: number;
  depth: number;
}

export interface LlamaBenchEntry {
  n_prompt: number;
  n_gen: number;
  n_depth: number;
  n_threads: number;
  avg_ts: number;
  samples_ts: number[];
  build_commit?: string;
}

export interface BenchMeasurement {
  test: BenchTest;
  /** Tokens/s of every timed repetition, over all rounds (llama-bench's `samples_ts`). */
  samples: number[];
  /** One llama-bench process per round; each runs one untimed warm-up of the test first. */
  rounds: number;
  stopped: "converged" | "max-reps";
  interval: MeanInterval;
  /** The first round's command line (later rounds differ only in -r). */
  command: string[];
  buildCommit: string | null;
}

export function llamaBenchPath(): string | null {
  return llamaToolPath("llama-bench");
}

export function llamaBenchArgs(s: LlamaBenchSettings, test: BenchTest, reps: number): string[] {
  return [
    "-m", s.modelPath,
    "-p", String(test.kind === "pp" ? test.tokens : 0),
    "-n", String(test.kind === "tg" ? test.tokens : 0),
    "-d", String(test.depth),
    "-t", String(s.threads),
    "-fa", s.flashAttention ? "on" : "off",
    "-ngl", String(s.gpuLayers),
    ...(s.batchSize ? ["-b", String(s.batchSize)] : []),
    ...(s.kvCacheType ? ["-ctk", s.kvCacheType, "-ctv", s.kvCacheType] : []),
    "-r", String(reps),
    "-o", "json",
  ];
}

/** llama-bench's `-o json` output: an array of test entries. */
export function parseLlamaBenchJson(text: string): LlamaBenchEntry[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error("llama-bench printed no JSON array");
  return parsed.map((e: unknown) => {
    const o = (e ?? {}) as Record<string, unknown>;
    const num = (k: string) => (typeof o[k] === "number" ? (o[k] as number) : 0);
    const samples = Array.isArray(o.samples_ts) ? (o.samples_ts as unknown[]).filter((v): v is number => typeof v === "number") : [];
    return {
      n_prompt: num("n_prompt"),
      n_gen: num("n_gen"),
      n_depth: num("n_depth"),
      n_threads: num("n_threads"),
      avg_ts: num("avg_ts"),
      samples_ts: samples,
      ...(typeof o.build_commit === "string" ? { build_commit: o.build_commit } : {}),
    };
  });
}

function runOnce(exe: string, args: string[], timeoutMs: number): Promise<LlamaBenchEntry[]> {
  return new Promise((resolve, reject) => {
    execFile(exe, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`llama-bench failed (${error.message.split("\n")[0]}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`));
        return;
      }
      try {
        resolve(parseLlamaBenchJson(stdout));
      } catch (e) {
        reject(new Error(`llama-bench output was not understood: ${(e as Error).message}`));
      }
    });
  });
}

export interface MeasureOptions {
  exe: string;
  settings: LlamaBenchSettings;
  tests: BenchTest[];
  rule: RepetitionRule;
  /** Per llama-bench process. */
  timeoutMs?: number;
  onRound?: (test: BenchTest, samples: readonly number[]) => void;
}

/**
 * Every test measured in rounds, the tests interleaved round by round (so a slow minute of a busy
 * machine falls on all of them), each until its own stopping rule says so.
 */
export async function measureWithLlamaBench(o: MeasureOptions): Promise<BenchMeasurement[]> {
  const state = o.tests.map((test) => ({ test, samples: [] as number[], rounds: 0, command: [] as string[], commit: null as string | null, stopped: null as "converged" | "max-reps" | null }));
  for (;;) {
    let ran = false;
    for (const s of state) {
      if (s.stopped) continue;
      const d = decide(s.samples, o.rule);
      if (d.stop) {
        s.stopped = d.reason;
        continue;
      }
      const args = llamaBenchArgs(o.settings, s.test, d.nextReps);
      if (s.rounds === 0) s.command = [o.exe, ...args];
      const entries = await runOnce(o.exe, args, o.timeoutMs ?? 600_000);
      const entry = entries.find((e) => (s.test.kind === "pp" ? e.n_prompt > 0 : e.n_gen > 0));
      if (!entry || entry.samples_ts.length === 0) throw new Error(`llama-bench reported no ${s.test.kind} samples`);
      s.samples.push(...entry.samples_ts);
      s.commit ??= entry.build_commit ?? null;
      s.rounds++;
      ran = true;
      o.onRound?.(s.test, s.samples);
    }
    if (!ran) break;
  }
  return state.map((s) => ({
    test: s.test,
    samples: s.samples,
    rounds: s.rounds,
    stopped: s.stopped ?? "max-reps",
    interval: meanInterval(s.samples, o.rule.confidence) as MeanInterval,
    command: s.command,
    buildCommit: s.commit,
  }));
}
