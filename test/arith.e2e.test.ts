import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlamaBackend } from "../src/backends/llama.js";
import { disposeEngines } from "../src/backends/llama-engine.js";
import { DEFAULT_RUNTIME } from "../src/core/model-spec.js";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { SHARED_MODELS, copySuite, heldout, readJsonl, tempDir } from "./helpers/cli.js";

/**
 * The arith checkpoints' accuracy table (../shared/models/README.md) is ground truth: if heldout
 * disagrees with it, heldout is wrong. These run the real checkpoints through the CLI.
 */

/** Ground truth, greedy, per area (add, sub, max, rev, sort), from ../shared/models/README.md. */
const TABLE: Record<string, Record<string, number>> = {
  "arith-step600": { add: 0.9, sub: 0.82, max: 0.977, rev: 0.999, sort: 0.984 },
  "arith-step6000": { add: 1, sub: 1, max: 1, rev: 1, sort: 1 },
};

/** A copy of tasks/arith with the first `perArea` tasks of each area. */
function arithSample(perArea: number): string {
  const dir = copySuite("arith");
  const lines = readFileSync(join(dir, "tasks.jsonl"), "utf8").trim().split("\n");
  const kept = lines.filter((l) => Number((JSON.parse(l) as { id: string }).id.split("-")[1]) <= perArea);
  writeFileSync(join(dir, "tasks.jsonl"), `${kept.join("\n")}\n`);
  return dir;
}

describe("tokenization as llama.cpp's tools do it", () => {
  const backend = new LlamaBackend();
  beforeAll(async () => {
    await backend.load({ backend: "llama", path: join(SHARED_MODELS, "arith/arith-step6000.gguf"), runtime: { ...DEFAULT_RUNTIME, contextSize: 64, gpu: "cpu" } });
  });
  afterAll(async () => {
    await backend.unload();
    await disposeEngines();
  });

  it("feeds BOS and SentencePiece's leading space: 91-37= is [1, 410, 483, 475, 464, 472, 491, 64]", () => {
    expect(backend.preparePromptNow("91-37=", "auto").tokenIds).toEqual([1, 410, 483, 475, 464, 472, 491, 64]);
  });

  it("answers 91-37= with 54 (LlamaCompletion's tokenization makes it answer 94)", async () => {
    const outputs: string[] = [];
    const prompt = backend.preparePromptNow("91-37=", "auto");
    const sampling = { temperature: 0, topP: 1, topK: 0, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: 1, stop: [] };
    const context = { threads: 1, contextSize: 64, flashAttention: false, parallel: 1 };
    await backend.generateAll([{ key: "a", prompt, maxTokens: 8, sampling, timeoutMs: 10_000 }], context, (_, g) => {
      outputs.push(g.text);
      expect(g.finishReason).toBe("eos");
    });
    expect(outputs).toEqual(["54"]);
  });
});

describe("arith checkpoints agree with the ground-truth table", () => {
  const out = tempDir("heldout-arith-");

  it("step6000 scores 1.000 in every area on 40 problems per area, and records carry the prompt's token ids", () => {
    const suite = arithSample(40);
    const r = heldout(["run", "--suite", suite, "--allow-unfrozen", "--model", "models/arith-step6000.yaml", "--out", out, "--run-id", "s6000", "--json", "-q"]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as Summary;
    const cell = summary.cells[0];
    expect(cell?.n).toBe(200);
    expect(Object.fromEntries(cell?.areas.map((a) => [a.area, a.passRate]) ?? [])).toEqual(TABLE["arith-step6000"]);
    const records = readJsonl<RunRecord>(join(out, "s6000", "records.jsonl"));
    const sub = records.find((x) => x.area === "sub") as RunRecord;
    // BOS, the leading-space token 410, then one token per character of the prompt.
    expect(sub.promptTokenIds.slice(0, 2)).toEqual([1, 410]);
    expect(sub.promptTokenIds).toHaveLength(2 + sub.prompt.length);
  });

  it("step600's per-area pass rates on the 1,000-task demo suite sit within sampling error of the table", () => {
    const r = heldout(["run", "--model", "models/arith-step600.yaml", "--out", out, "--run-id", "s600", "--json", "-q"]);
    expect(r.code).toBe(0);
    const cell = (JSON.parse(r.stdout) as Summary).cells[0];
    for (const area of cell?.areas ?? []) {
      const p = TABLE["arith-step600"]?.[area.area] as number;
      // 3.5 standard errors of a binomial proportion at n = 200 (plus 0.01 for p near 1).
      const tolerance = 3.5 * Math.sqrt((p * (1 - p)) / area.n) + 0.01;
      expect(Math.abs((area.passRate as number) - p), `${area.area}: ${area.passRate} vs ${p}`).toBeLessThanOrEqual(tolerance);
    }
  });
});
