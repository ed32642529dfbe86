import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LlamaModel, Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { disposeEngines, getEngine } from "../src/backends/llama-engine.js";
import type { GradeLine } from "../src/core/grades.js";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { pickByLikelihood, type LikelihoodOption } from "../src/runner/grade.js";
import { validateScorer } from "../src/scorers/index.js";
import { loadModelSpec } from "../src/store/models.js";
import { heldout, readJsonl, SHARED_MODELS, tempDir } from "./helpers/cli.js";

/**
 * Multiple choice by likelihood on stories260K: heldout's picks and log-likelihoods checked
 * against a direct evaluation of the same model through node-llama-cpp in this process.
 */

const STORY = ["Lily", "Tom", "dog", "the"];
const TASKS: { text: string; expected: string; choices?: string[] }[] = [
  { text: "Once upon a time there was a little girl named", expected: "Lily" },
  { text: "Once upon a time, there was a little boy named", expected: "Tom" },
  { text: "One day, Lily went to the park with her", expected: "mom", choices: ["mom", "car", "sky", "happy"] },
  // Mean and sum disagree here (a 3-token choice against a 1-token one).
  { text: "One day, Lily went to the park with her", expected: "sky", choices: ["sky", "happy"] },
  { text: "Lily saw a big", expected: "dog", choices: ["dog", "tree", "ball", "the"] },
  { text: "She was very", expected: "happy", choices: ["happy", "sad", "car", "blue"] },
  { text: "Tom and his friend went to the", expected: "park", choices: ["park", "moon", "happy", "ran"] },
  { text: "Once upon a time, there was a", expected: "little", choices: ["little", "big", "dog", "Lily"] },
];

function suite(normalise?: boolean): string {
  const dir = join(tempDir("heldout-likelihood-"), "mc");
  mkdirSync(dir);
  const extra = normalise === undefined ? "" : `, normalise: ${normalise}`;
  const lines = TASKS.map((t, i) => ({
    id: `t${i + 1}`,
    vars: { text: t.text },
    expected: t.expected,
    ...(t.choices ? { scorer: { type: "likelihood", choices: t.choices, ...(normalise === undefined ? {} : { normalise }) } } : {}),
  }));
  writeFileSync(join(dir, "tasks.jsonl"), lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  writeFileSync(join(dir, "suite.yaml"), `name: mc\nprompt: "{{text}}"\nscorer: {type: likelihood, choices: ${JSON.stringify(STORY)}${extra}}\nmaxTokens: 4\nchatTemplate: never\n`);
  expect(heldout(["freeze", dir]).code).toBe(0);
  return dir;
}

interface Raw {
  by: "mean" | "sum";
  options: LikelihoodOption[];
  picked: { mean: string; sum: string };
  generation: { pass: boolean; reason: string };
}

/** Direct evaluation: the whole sequence at once, every position's logits, log-softmax here. */
let model: LlamaModel;
/** Flash attention changes the numbers (by ~3e-3 on stories260K): direct evaluation uses the cell's setting. */
let flashAttention = false;
async function direct(prompt: string, choice: string): Promise<{ promptTokens: number[]; sum: number; tokens: number }> {
  const bos = model.tokens.bos as Token;
  const promptTokens = [bos, ...model.tokenize(prompt, true)];
  const all = [bos, ...model.tokenize(`${prompt} ${choice}`, true)];
  expect(all.slice(0, promptTokens.length)).toEqual(promptTokens);
  const context = await model.createContext({ contextSize: 256, sequences: 1, threads: 1, flashAttention });
  try {
    const out = await context.getSequence().controlledEvaluate(all.map((t) => [t, { generateNext: { logits: true } }] as [Token, { generateNext: { logits: true } }]));
    let sum = 0;
    for (let i = promptTokens.length; i < all.length; i++) {
      const logits = [...(out[i - 1]?.next.logits as Map<Token, number>).entries()];
      const max = Math.max(...logits.map(([, v]) => v));
      const lse = max + Math.log(logits.reduce((a, [, v]) => a + Math.exp(v - max), 0));
      sum += (logits.find(([t]) => t === all[i])?.[1] as number) - lse;
    }
    return { promptTokens: promptTokens.map(Number), sum, tokens: all.length - promptTokens.length };
  } finally {
    await context.dispose();
  }
}

describe("the likelihood scorer's options", () => {
  it("checks choices and expected as the choice scorer does, and normalise as a boolean", () => {
    expect(validateScorer({ type: "likelihood", choices: ["a", "b"] }, true, "a")).toEqual([]);
    expect(validateScorer({ type: "likelihood", choices: ["a", "b"], normalise: false }, true, "b")).toEqual([]);
    expect(validateScorer({ type: "likelihood", choices: ["a", "b"] }, true, "c").map((p) => p.field)).toEqual(["expected"]);
    expect(validateScorer({ type: "likelihood", choices: ["a"] }, true, "a").map((p) => p.field)).toContain("choices");
    expect(validateScorer({ type: "likelihood", choices: ["a", "b"], normalise: "yes" }, true, "a").map((p) => p.field)).toContain("normalise");
    expect(validateScorer({ type: "likelihood", choices: ["a", "b"] }, false).map((p) => p.field)).toContain("expected");
  });
  it("picks the highest, the first listed on a tie", () => {
    const o = (choice: string, sum: number, tokens: number): LikelihoodOption => ({ choice, text: ` ${choice}`, sum, mean: sum / tokens, tokens, aligned: true });
    const options = [o("a", -3, 3), o("b", -2, 1), o("c", -2, 1)];
    expect(pickByLikelihood(options, "mean")?.choice).toBe("a");
    expect(pickByLikelihood(options, "sum")?.choice).toBe("b");
  });
});

describe("multiple choice by likelihood on stories260K, checked against direct evaluation", () => {
  const out = tempDir("heldout-likelihood-out-");
  const runs = {
    mean: heldout(["run", "--suite", suite(), "--model", "models/stories260k.yaml", "--out", out, "--run-id", "mean", "--json", "-q"]),
    sum: heldout(["run", "--suite", suite(false), "--model", "models/stories260k.yaml", "--out", out, "--run-id", "sum", "--json", "-q"]),
  };
  const exact = new Map<string, { promptTokens: number[]; sum: number; tokens: number }>();

  beforeAll(async () => {
    const spec = loadModelSpec("models/stories260k.yaml");
    const path = join(SHARED_MODELS, "stories260K.gguf");
    flashAttention = spec.runtime.flashAttention;
    const engine = await getEngine(spec.runtime, path);
    model = await engine.llama.loadModel({ modelPath: path, gpuLayers: 0 });
    for (const t of TASKS) for (const c of t.choices ?? STORY) exact.set(`${t.text}\u0000${c}`, await direct(t.text, c));
  }, 120_000);
  afterAll(async () => {
    await model?.dispose();
    await disposeEngines();
  });

  for (const by of ["mean", "sum"] as const) {
    it(`by ${by}: every option's log-likelihood agrees with direct evaluation, and the pick is the direct argmax`, () => {
      const run = runs[by];
      expect(run.code, run.stderr).toBe(0);
      const grades = readJsonl<GradeLine>(join(out, by, "grades.jsonl"));
      const records = new Map(readJsonl<RunRecord>(join(out, by, "records.jsonl")).map((r) => [r.taskId, r]));
      expect(grades).toHaveLength(TASKS.length);
      let passed = 0;
      for (const g of grades) {
        const i = Number(g.taskId.slice(1)) - 1;
        const task = TASKS[i] as (typeof TASKS)[number];
        const choices = task.choices ?? STORY;
        expect(g.type).toBe("likelihood");
        expect(g.graderModel).toBe("stories260k");
        expect(g.error).toBeNull();
        const raw = JSON.parse(g.raw as string) as Raw;
        expect(raw.by).toBe(by);
        expect(raw.options.map((o) => o.choice)).toEqual(choices);
        const directScores = choices.map((c) => {
          const d = exact.get(`${task.text}\u0000${c}`) as { promptTokens: number[]; sum: number; tokens: number };
          expect(records.get(g.taskId)?.promptTokenIds).toEqual(d.promptTokens);
          return { choice: c, ...d, mean: d.sum / d.tokens };
        });
        for (const [k, o] of raw.options.entries()) {
          const d = directScores[k] as (typeof directScores)[number];
          expect(o.aligned).toBe(true);
          expect(o.text).toBe(` ${o.choice}`);
          expect(o.tokens).toBe(d.tokens);
          expect(Math.abs(o.sum - d.sum)).toBeLessThan(1e-4);
          expect(o.mean).toBeCloseTo(o.sum / o.tokens, 12);
        }
        // Both normalisations are reported whichever decides.
        const argmax = (key: "mean" | "sum") => directScores.reduce((best, s) => (s[key] > best[key] ? s : best)).choice;
        expect(raw.picked).toEqual({ mean: argmax("mean"), sum: argmax("sum") });
        const picked = argmax(by);
        expect(g.score.pass).toBe(picked === task.expected);
        expect(g.score.reason).toMatch(new RegExp(`^likelihood picks "${picked}" \\(${by} -?\\d+\\.\\d+(/token)?; by ${by === "mean" ? "sum" : "mean"}: "${raw.picked[by === "mean" ? "sum" : "mean"]}"\\)`));
        // Generation-based scoring of the same task, beside it.
        expect(g.score.reason).toContain(`; generation: ${raw.generation.reason}`);
        if (g.score.pass) passed++;
      }
      // Mean and sum disagree on task 4 ("sky", 3 tokens, against "happy", 1 token).
      const t4 = JSON.parse(grades.find((g) => g.taskId === "t4")?.raw as string) as Raw;
      expect(t4.picked).toEqual({ mean: "sky", sum: "happy" });
      // The summary counts the grades.
      const summary = JSON.parse(runs[by].stdout) as Summary;
      expect(summary.cells[0]?.passed).toBe(passed);
    });
  }
});
