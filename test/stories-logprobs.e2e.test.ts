import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Token } from "node-llama-cpp";
import { getEngine } from "../src/backends/llama-engine.js";
import { describe, expect, it } from "vitest";
import type { ContaminationReport } from "../src/check/contamination.js";
import { tokenLogProbs } from "../src/backends/token-logprobs.js";
import type { RunRecord } from "../src/core/types.js";
import { heldout, readJsonl, ROOT, SHARED_MODELS, tempDir } from "./helpers/cli.js";

/**
 * On stories260K: the contamination probe flags text the model itself wrote greedily and not
 * random word sequences; the token log-probabilities heldout records equal a direct evaluation of
 * the same tokens through node-llama-cpp's logits.
 */

const out = tempDir("heldout-stories-lp-");
const starts = readFileSync(join(ROOT, "tasks/tinystories/tasks.jsonl"), "utf8").trim().split("\n").slice(0, 20).map((l) => (JSON.parse(l) as { vars: { text: string } }).vars.text);
const suiteOf = (name: string, texts: string[]) => {
  const dir = join(out, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "suite.yaml"), `name: ${name}\nprompt: "{{text}}"\nscorer: {type: regex, pattern: "."}\nmaxTokens: 24\nchatTemplate: never\n`);
  writeFileSync(join(dir, "tasks.jsonl"), `${texts.map((text, i) => JSON.stringify({ id: `${name}-${String(i).padStart(2, "0")}`, area: i % 2 ? "b" : "a", vars: { text } })).join("\n")}\n`);
  return dir;
};
// What stories260K writes greedily after each story opening.
const gen = heldout(["run", "--suite", suiteOf("openings", starts), "--allow-unfrozen", "--model", "models/stories260k.yaml", "--out", out, "--run-id", "g", "-q"]);
const records = readJsonl<RunRecord>(join(out, "g", "records.jsonl"));

describe("the contamination probe on stories260K", () => {
  it("flags the model's own greedy text and not random word sequences", () => {
    expect(gen.code, gen.stderr).toBe(0);
    const own = suiteOf("own", records.map((r) => `${r.prompt}${r.output}`));
    const words = "dog tree blue run happy sun little big ball jump red girl boy cat sky went saw park play friend".split(" ");
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const random = suiteOf("random", Array.from({ length: 20 }, () => Array.from({ length: 16 }, () => words[Math.floor(next() * words.length)]).join(" ")));
    const probe = (dir: string) => {
      const r = heldout(["contamination", "--model", "models/stories260k.yaml", "--suite", dir, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as ContaminationReport;
    };
    const [mine, noise] = [probe(own), probe(random)];
    expect(mine.overall.share).toBeGreaterThanOrEqual(0.8);
    expect(noise.overall.share).toBeLessThanOrEqual(0.05);
    expect(mine.overall.reproduced).toBeGreaterThanOrEqual(16); // flagged because it reproduces its own text
  });
});

describe("token log-probabilities", () => {
  it("equal a direct node-llama-cpp evaluation of the same tokens", async () => {
    const modelPath = join(SHARED_MODELS, "stories260K.gguf");
    const { llama } = await getEngine({ binary: "auto", gpu: "cpu" }, modelPath);
    const model = await llama.loadModel({ modelPath });
    // One thread, as the run resolved it: the prebuilt binary slows down 20–35× at 2 threads here.
    const context = await model.createContext({ contextSize: 256, flashAttention: false, threads: 1 });
    const sequence = context.getSequence();
    let compared = 0;
    for (const r of records.slice(0, 10)) {
      // The same greedy tokens again, then their log-probabilities from full logits.
      await sequence.clearHistory();
      const generated: Token[] = [];
      for await (const t of sequence.evaluate(r.promptTokenIds as Token[], { temperature: 0 })) {
        if (model.isEogToken(t) || generated.length >= r.completionTokens) break;
        generated.push(t);
      }
      expect(model.detokenize(generated, false, r.promptTokenIds as Token[])).toBe(r.output);
      const direct = await tokenLogProbs(sequence, [], [...(r.promptTokenIds as Token[]), ...generated], r.promptTokenIds.length - 1);
      const mean = direct.reduce((a, b) => a + b, 0) / direct.length;
      expect(r.confidence?.tokens).toBe(direct.length);
      // The same tokens; the values differ only by float32 arithmetic (another context size and
      // batch shape, and llama.cpp's softmax against the float64 one here): within 0.01 nats.
      expect(Math.abs((r.confidence?.meanLogprob as number) - mean)).toBeLessThan(0.01);
      expect(Math.abs((r.confidence?.minLogprob as number) - Math.min(...direct))).toBeLessThan(0.01);
      compared++;
    }
    expect(compared).toBe(10);
    await context.dispose();
    await model.dispose();
  });
});
