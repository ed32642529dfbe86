import { describe, expect, it } from "vitest";
import { HeldoutError, HeldoutErrors } from "../src/core/errors.js";
import { DEFAULT_RUNTIME } from "../src/core/model-spec.js";
import { planRun, type PlanModel } from "../src/core/plan.js";
import { promptText } from "../src/core/prompt.js";
import { parseSuite } from "../src/core/suite.js";
import { DEFAULT_PROMPT, DEFAULT_SAMPLING, expandGrid, parseSweep, sweptPaths, type PromptVariant, type Sweep } from "../src/core/sweep.js";
import type { ModelSpec, RuntimeSettings, Suite, Task } from "../src/core/types.js";

// ───────────────────────────── helpers ─────────────────────────────

function problems(fn: () => unknown): HeldoutError[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HeldoutError);
    return e instanceof HeldoutErrors ? e.errors : [e as HeldoutError];
  }
  throw new Error("expected a HeldoutError, nothing was thrown");
}

/** `field@line` of every problem, in order. */
const located = (fn: () => unknown): string[] => problems(fn).map((e) => `${e.field}@${e.line}`);
const fields = (fn: () => unknown): (string | undefined)[] => problems(fn).map((e) => e.field);

const sweep = (text: string, file = "profiles/test.yaml"): Sweep => parseSweep(file, text);

function makeSuite(opts: { prompt?: string; maxTokens?: number; tasks?: object[]; name?: string; scorer?: string } = {}): Suite {
  const tasks = opts.tasks ?? [
    { id: "t1", vars: { q: "1+1" }, expected: "2" },
    { id: "t2", vars: { q: "2+2" }, expected: "4" },
    { id: "t3", vars: { q: "3*3" }, expected: "9" },
  ];
  const suiteText = [
    `name: ${opts.name ?? "mem"}`,
    `prompt: ${JSON.stringify(opts.prompt ?? "Q: {{q}}\nA:")}`,
    `scorer: ${opts.scorer ?? "exact"}`,
    `maxTokens: ${opts.maxTokens ?? 8}`,
    "chatTemplate: never",
    "",
  ].join("\n");
  return parseSuite({
    dir: "mem",
    suiteFile: "mem/suite.yaml",
    suiteText,
    tasksFile: "mem/tasks.jsonl",
    tasksText: tasks.map((t) => JSON.stringify(t)).join("\n") + "\n",
  });
}

function model(id: string, runtime: Partial<RuntimeSettings> = {}, sha256 = "a".repeat(64)): PlanModel {
  const spec: ModelSpec = { id, backend: "llama", sources: [`${id}.gguf`], runtime: { ...DEFAULT_RUNTIME, ...runtime } };
  return { spec, sha256 };
}

const task = (suite: Suite, id: string): Task => {
  const t = suite.tasks.find((x) => x.id === id);
  if (!t) throw new Error(`no task ${id}`);
  return t;
};

const variant = (v: Partial<PromptVariant>): PromptVariant => ({ ...DEFAULT_PROMPT, ...v });

// ───────────────────────────── parseSweep ─────────────────────────────

describe("parseSweep: a profile without lists", () => {
  it("has exactly one point with explicit greedy defaults", () => {
    const s = sweep("");
    expect(s.points).toHaveLength(1);
    const p = s.points[0]!;
    expect(p.sampling).toEqual({ temperature: 0, topP: 1, topK: 0, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: 42, stop: [] });
    expect(p.sampling).toEqual(DEFAULT_SAMPLING);
    expect("maxTokens" in p.sampling).toBe(false);
    expect(p.samples).toBe(1);
    expect(p.parallel).toBe(1);
    expect(p.timeoutMs).toBe(120_000);
    expect(p.runtime).toEqual({});
    expect(p.prompt).toEqual({ name: "suite", template: null, system: null, fewShot: 0, answerSeparator: "", exampleSeparator: "\n" });
    expect(s.exclude).toEqual([]);
    expect(s.sample).toBeNull();
    expect(s.models).toEqual([]);
    expect(s.name).toBe("test");
    expect(s.file).toBe("profiles/test.yaml");
    expect(s.description).toBe("");
  });

  it("scalar settings give one point with those values", () => {
    const s = sweep(
      [
        "name: one",
        "description: a single cell",
        "sampling:",
        "  temperature: 0.7",
        "  topP: 0.9",
        "  topK: 40",
        "  minP: 0.05",
        "  repeatPenalty: 1.1",
        "  repeatLastN: 32",
        "  seed: 7",
        "  maxTokens: 16",
        "  stop: [\"\\n\", \"END\"]",
        "samples: 3",
        "parallel: 4",
        "timeoutMs: 5000",
        "runtime:",
        "  threads: 4",
        "  contextSize: 512",
        "  batchSize: 128",
        "  gpuLayers: 0",
        "  flashAttention: true",
        "  kvCacheType: q8_0",
      ].join("\n"),
    );
    expect(s.name).toBe("one");
    expect(s.description).toBe("a single cell");
    expect(s.points).toHaveLength(1);
    expect(s.points[0]).toEqual({
      prompt: DEFAULT_PROMPT,
      sampling: { temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05, repeatPenalty: 1.1, repeatLastN: 32, seed: 7, maxTokens: 16, stop: ["\n", "END"] },
      samples: 3,
      parallel: 4,
      timeoutMs: 5000,
      runtime: { threads: 4, contextSize: 512, batchSize: 128, gpuLayers: 0, flashAttention: true, kvCacheType: "q8_0" },
    });
  });

  it("a profile that is not a mapping is an error on line 1", () => {
    const errs = problems(() => sweep("- a\n- b\n"));
    expect(errs).toHaveLength(1);
    expect(errs[0]!.line).toBe(1);
    expect(errs[0]!.file).toBe("profiles/test.yaml");
  });

  it("an unknown top-level, sampling or runtime field is an error naming it", () => {
    expect(fields(() => sweep("temprature: 1\nsampling:\n  topp: 0.5\nruntime:\n  thread: 2\n"))).toEqual(["temprature", "sampling.topp", "runtime.thread"]);
  });
});

describe("parseSweep: lists expand to the cartesian product", () => {
  it.each([
    ["temperature", "[0, 0.5, 1.5]", [0, 0.5, 1.5]],
    ["topP", "[1, 0.9]", [1, 0.9]],
    ["topK", "[0, 40]", [0, 40]],
    ["minP", "[0, 0.05]", [0, 0.05]],
    ["repeatPenalty", "[1, 1.1]", [1, 1.1]],
    ["repeatLastN", "[0, 64, 256]", [0, 64, 256]],
    ["seed", "[1, 2, 3]", [1, 2, 3]],
    ["maxTokens", "[8, 16]", [8, 16]],
  ] as const)("sampling.%s as a list sweeps", (field, yaml, values) => {
    const s = sweep(`sampling:\n  ${field}: ${yaml}\n`);
    expect(s.points.map((p) => (p.sampling as unknown as Record<string, unknown>)[field])).toEqual(values);
    // Everything else keeps its default.
    for (const p of s.points) expect({ ...p.sampling, [field]: (DEFAULT_SAMPLING as unknown as Record<string, unknown>)[field] }).toMatchObject(DEFAULT_SAMPLING);
  });

  it.each([
    ["samples", "[1, 3]", [1, 3]],
    ["parallel", "[1, 2, 4]", [1, 2, 4]],
    ["timeoutMs", "[1000, 60000]", [1000, 60000]],
  ] as const)("top-level %s as a list sweeps", (field, yaml, values) => {
    const s = sweep(`${field}: ${yaml}\n`);
    expect(s.points.map((p) => p[field])).toEqual(values);
  });

  it.each([
    ["threads", "[auto, 1, 4]", ["auto", 1, 4]],
    ["contextSize", "[512, 2048]", [512, 2048]],
    ["batchSize", "[64, 512]", [64, 512]],
    ["gpuLayers", "[auto, max, 0, 20]", ["auto", "max", 0, 20]],
    ["flashAttention", "[false, true]", [false, true]],
    ["kvCacheType", "[f16, q8_0, q4_0]", ["f16", "q8_0", "q4_0"]],
  ] as const)("runtime.%s as a list sweeps", (field, yaml, values) => {
    const s = sweep(`runtime:\n  ${field}: ${yaml}\n`);
    expect(s.points.map((p) => (p.runtime as Record<string, unknown>)[field])).toEqual(values);
    for (const p of s.points) expect(Object.keys(p.runtime)).toEqual([field]);
  });

  it("runtime fields not set by the profile are absent from each point's overrides", () => {
    const s = sweep("runtime:\n  threads: auto\n");
    expect(s.points).toHaveLength(1);
    expect(s.points[0]!.runtime).toEqual({ threads: "auto" });
  });

  it("a 3 × 4 × 3 grid has 36 points, the first field varying slowest", () => {
    const s = sweep(
      [
        "sampling:",
        "  temperature: [0, 0.5, 1]",
        "  topP: [1, 0.9, 0.8, 0.5]",
        "prompts:",
        "  - name: a",
        "  - name: b",
        "  - name: c",
      ].join("\n"),
    );
    expect(s.points).toHaveLength(36);
    const keys = s.points.map((p) => `${p.prompt.name}/${p.sampling.temperature}/${p.sampling.topP}`);
    const expected: string[] = [];
    for (const pr of ["a", "b", "c"]) for (const t of [0, 0.5, 1]) for (const tp of [1, 0.9, 0.8, 0.5]) expected.push(`${pr}/${t}/${tp}`);
    expect(keys).toEqual(expected);
    expect(new Set(keys).size).toBe(36);
  });

  // Each axis: where it goes in the file, its two values as YAML, and a test for the second value.
  type Point = Sweep["points"][number];
  const AXES: [string, "top" | "sampling" | "runtime" | "prompts", string, (p: Point) => boolean][] = [
    ["prompts", "prompts", "\n  - name: p0\n  - name: p1", (p) => p.prompt.name === "p1"],
    ["temperature", "sampling", "[0, 1]", (p) => p.sampling.temperature === 1],
    ["topP", "sampling", "[1, 0.5]", (p) => p.sampling.topP === 0.5],
    ["topK", "sampling", "[0, 1]", (p) => p.sampling.topK === 1],
    ["minP", "sampling", "[0, 0.1]", (p) => p.sampling.minP === 0.1],
    ["repeatPenalty", "sampling", "[1, 2]", (p) => p.sampling.repeatPenalty === 2],
    ["repeatLastN", "sampling", "[0, 1]", (p) => p.sampling.repeatLastN === 1],
    ["seed", "sampling", "[1, 2]", (p) => p.sampling.seed === 2],
    ["maxTokens", "sampling", "[8, 9]", (p) => p.sampling.maxTokens === 9],
    ["stop", "sampling", "[[a], [b]]", (p) => p.sampling.stop[0] === "b"],
    ["samples", "top", "[1, 2]", (p) => p.samples === 2],
    ["parallel", "top", "[1, 2]", (p) => p.parallel === 2],
    ["timeoutMs", "top", "[100, 200]", (p) => p.timeoutMs === 200],
    ["threads", "runtime", "[1, 2]", (p) => p.runtime.threads === 2],
    ["contextSize", "runtime", "[256, 512]", (p) => p.runtime.contextSize === 512],
    ["batchSize", "runtime", "[64, 128]", (p) => p.runtime.batchSize === 128],
    ["gpuLayers", "runtime", "[0, max]", (p) => p.runtime.gpuLayers === "max"],
    ["flashAttention", "runtime", "[false, true]", (p) => p.runtime.flashAttention === true],
    ["kvCacheType", "runtime", "[f16, q8_0]", (p) => p.runtime.kvCacheType === "q8_0"],
  ];
  /** A profile sweeping the given axes, written in the order given. */
  const profileOf = (axes: typeof AXES): string => {
    const sections: Record<string, string[]> = {};
    const lines: string[] = [];
    for (const [name, where, values] of axes) {
      if (where === "top" || where === "prompts") lines.push(`${name}: ${values}`);
      else {
        if (!sections[where]) {
          sections[where] = [];
          lines.push(`@${where}`);
        }
        sections[where].push(`  ${name}: ${values}`);
      }
    }
    return lines.map((l) => (l.startsWith("@") ? [`${l.slice(1)}:`, ...sections[l.slice(1)]!].join("\n") : l)).join("\n") + "\n";
  };

  it.each(AXES.slice(0, -1).map((a, i) => [a[0], AXES[i + 1]![0], i] as const))(
    "%s varies slower than %s, whatever the order in the file",
    (_a, _b, i) => {
      const pair = [AXES[i]!, AXES[i + 1]!];
      for (const written of [pair, [...pair].reverse()]) {
        const s = sweep(profileOf(written));
        expect(s.points.map((p) => `${pair[0]![3](p) ? 1 : 0}${pair[1]![3](p) ? 1 : 0}`)).toEqual(["00", "01", "10", "11"]);
      }
    },
  );

  it("all axes together: point i is binary i, the first axis the most significant bit (2^12 points)", () => {
    // Every other axis, so the grid stays small; written in reverse order.
    const axes = AXES.filter((_, i) => i % 3 !== 1);
    const s = sweep(profileOf([...axes].reverse()));
    expect(s.points).toHaveLength(2 ** axes.length);
    s.points.forEach((p, i) => {
      expect(axes.map(([, , , second]) => (second(p) ? "1" : "0")).join("")).toBe(i.toString(2).padStart(axes.length, "0"));
    });
  });

  it("a stop list of strings is one setting; a string is one stop; a list of lists sweeps", () => {
    const one = sweep('sampling:\n  stop: ["\\n", "Q:"]\n');
    expect(one.points).toHaveLength(1);
    expect(one.points[0]!.sampling.stop).toEqual(["\n", "Q:"]);

    const single = sweep("sampling:\n  stop: END\n");
    expect(single.points).toHaveLength(1);
    expect(single.points[0]!.sampling.stop).toEqual(["END"]);

    const swept = sweep('sampling:\n  stop:\n    - []\n    - ["\\n"]\n    - ["\\n", "Q:"]\n');
    expect(swept.points.map((p) => p.sampling.stop)).toEqual([[], ["\n"], ["\n", "Q:"]]);
  });

  it("a bad stop set in a list of lists is reported with its index", () => {
    expect(located(() => sweep("sampling:\n  stop:\n    - [a]\n    - [1]\n"))).toEqual(["sampling.stop.1@4"]);
  });

  it("models lists manifests; a single string is one model", () => {
    expect(sweep("models:\n  - models/a.yaml\n  - models/b.yaml\n").models).toEqual(["models/a.yaml", "models/b.yaml"]);
    expect(sweep("models: models/a.yaml\n").models).toEqual(["models/a.yaml"]);
    expect(fields(() => sweep("models: [1]\n"))).toEqual(["models"]);
  });
});

describe("parseSweep: bad list elements", () => {
  it("every bad element is reported with its own line and index", () => {
    const text = [
      "sampling:", //           1
      "  temperature:", //      2
      "    - 0", //             3
      "    - -1", //            4
      "    - 0.5", //           5
      "    - hot", //           6
      "  topP:", //             7
      "    - 1", //             8
      "    - 1.5", //           9
      "samples:", //            10
      "  - 1", //               11
      "  - 0", //               12
      "runtime:", //            13
      "  threads:", //          14
      "    - auto", //          15
      "    - some", //          16
      "  gpuLayers:", //        17
      "    - max", //           18
      "    - -3", //            19
      "  kvCacheType:", //      20
      "    - f16", //           21
      "    - q9", //            22
      "  flashAttention:", //   23
      "    - yes-please", //    24
    ].join("\n");
    // Every problem is listed (the order among them is not part of the contract).
    expect(located(() => sweep(text)).sort()).toEqual([
      "sampling.temperature.1@4",
      "sampling.temperature.3@6",
      "sampling.topP.1@9",
      "samples.1@12",
      "runtime.threads.1@16",
      "runtime.gpuLayers.1@19",
      "runtime.flashAttention.0@24",
      "runtime.kvCacheType.1@22",
    ].sort());
    for (const e of problems(() => sweep(text))) expect(e.file).toBe("profiles/test.yaml");
  });

  it("whole-number fields reject fractions in lists", () => {
    expect(fields(() => sweep("sampling:\n  topK: [1, 2.5]\n  seed: [0.5]\n  maxTokens: [0, 8]\n"))).toEqual([
      "sampling.topK.1",
      "sampling.seed.0",
      "sampling.maxTokens.0",
    ]);
  });

  it.each([
    ["sampling:\n  temperature: []\n", "sampling.temperature"],
    ["sampling:\n  maxTokens: []\n", "sampling.maxTokens"],
    ["samples: []\n", "samples"],
    ["parallel: []\n", "parallel"],
    ["timeoutMs: []\n", "timeoutMs"],
    ["runtime:\n  threads: []\n", "runtime.threads"],
    ["runtime:\n  gpuLayers: []\n", "runtime.gpuLayers"],
    ["prompts: []\n", "prompts"],
  ])("an empty list is an error: %j", (text, field) => {
    const errs = problems(() => sweep(text));
    expect(errs.map((e) => e.field)).toEqual([field]);
    expect(errs[0]!.line).toBeTypeOf("number");
  });

  it("all problems of a profile are reported at once", () => {
    const errs = problems(() => sweep("sampling:\n  temperature: [-1, -2]\nparallel: 0\nbogus: 1\n"));
    expect(errs.map((e) => e.field).sort()).toEqual(["bogus", "parallel", "sampling.temperature.0", "sampling.temperature.1"]);
  });
});

describe("parseSweep: prompt variants", () => {
  it("reads every field, with defaults for the missing ones", () => {
    const s = sweep(
      [
        "prompts:",
        "  - name: plain",
        "  - name: full",
        '    template: "Question: {{q}}\\nAnswer:"',
        "    system: You are terse.",
        "    fewShot: 2",
        '    answerSeparator: " "',
        '    exampleSeparator: "\\n\\n"',
      ].join("\n"),
    );
    expect(s.points.map((p) => p.prompt)).toEqual([
      { name: "plain", template: null, system: null, fewShot: 0, answerSeparator: "", exampleSeparator: "\n" },
      { name: "full", template: "Question: {{q}}\nAnswer:", system: "You are terse.", fewShot: 2, answerSeparator: " ", exampleSeparator: "\n\n" },
    ]);
  });

  it("a duplicate name is an error on the second one", () => {
    expect(located(() => sweep("prompts:\n  - name: a\n  - name: b\n  - name: a\n"))).toEqual(["prompts.2.name@4"]);
  });

  it("a template without a placeholder is an error", () => {
    expect(located(() => sweep("prompts:\n  - name: a\n    template: no placeholder here\n"))).toEqual(["prompts.0.template@3"]);
  });

  it("an unknown field is an error naming it", () => {
    expect(located(() => sweep("prompts:\n  - name: a\n  - name: b\n    fewshot: 2\n"))).toEqual(["prompts.1.fewshot@4"]);
  });

  it("a variant that is not a mapping is an error", () => {
    expect(located(() => sweep("prompts:\n  - name: a\n  - just-a-string\n"))).toEqual(["prompts.1@3"]);
  });

  it("a missing name, a negative fewShot and a non-list are errors", () => {
    expect(fields(() => sweep("prompts:\n  - template: '{{q}}'\n"))).toEqual(["prompts.0.name"]);
    expect(fields(() => sweep("prompts:\n  - name: a\n    fewShot: -1\n"))).toEqual(["prompts.0.fewShot"]);
    expect(fields(() => sweep("prompts: plain\n"))).toEqual(["prompts"]);
  });
});

describe("parseSweep: exclude, sample, seed", () => {
  it("accepts short names and dotted paths", () => {
    const s = sweep(
      [
        "sampling:",
        "  temperature: [0, 1]",
        "exclude:",
        "  - {temperature: 0, topP: 0.9}",
        "  - {sampling.topP: 0.5, prompt: fewshot}",
        "  - {model: m1, threads: 4}",
        "  - {runtime.gpuLayers: max, prompt.name: x}",
      ].join("\n"),
    );
    expect(s.exclude).toEqual([
      { temperature: 0, topP: 0.9 },
      { "sampling.topP": 0.5, prompt: "fewshot" },
      { model: "m1", threads: 4 },
      { "runtime.gpuLayers": "max", "prompt.name": "x" },
    ]);
  });

  it("an unknown key in a rule is an error naming exclude.<i>.<key>", () => {
    const errs = problems(() => sweep("exclude:\n  - {temperature: 0}\n  - {temprature: 0}\n"));
    expect(errs.map((e) => e.field)).toEqual(["exclude.1.temprature"]);
    expect(errs[0]!.line).toBe(3);
    expect(fields(() => sweep("exclude:\n  - {temperature: 0, bogus: 1}\n"))).toEqual(["exclude.0.bogus"]);
    // A dotted path must name a real setting too.
    expect(fields(() => sweep("exclude:\n  - {sampling.bogus: 1}\n"))).toEqual(["exclude.0.sampling.bogus"]);
    expect(fields(() => sweep("exclude:\n  - {prompt.template: x}\n"))).toEqual(["exclude.0.prompt.template"]);
  });

  it("a rule that is empty or not a mapping, or exclude that is not a list, is an error", () => {
    expect(fields(() => sweep("exclude:\n  - {}\n"))).toEqual(["exclude.0"]);
    expect(fields(() => sweep("exclude:\n  - temperature\n"))).toEqual(["exclude.0"]);
    expect(fields(() => sweep("exclude: {temperature: 0}\n"))).toEqual(["exclude"]);
  });

  it("sample: N with seed, or with the default seed", () => {
    expect(sweep("sample: 5\nseed: 9\n").sample).toEqual({ n: 5, seed: 9 });
    expect(sweep("sample: 5\n").sample).toEqual({ n: 5, seed: 1 });
    expect(sweep("sample: 5\nseed: 0\n").sample).toEqual({ n: 5, seed: 0 });
  });

  it("seed without sample is an error; a bad sample is an error", () => {
    expect(located(() => sweep("name: x\nseed: 3\n"))).toEqual(["seed@2"]);
    expect(fields(() => sweep("sample: 0\n"))).toEqual(["sample"]);
    expect(fields(() => sweep("sample: 2.5\n"))).toEqual(["sample"]);
    expect(fields(() => sweep("sample: 3\nseed: -1\n"))).toEqual(["seed"]);
  });
});

// ───────────────────────────── expandGrid ─────────────────────────────

describe("expandGrid", () => {
  const grid3x4x3 = [
    "sampling:",
    "  temperature: [0, 0.5, 1]",
    "  topP: [1, 0.9, 0.8, 0.5]",
    "prompts:",
    "  - name: a",
    "  - name: b",
    "  - name: c",
  ].join("\n");

  it("a 3 × 4 × 3 grid on one model is 36 cells", () => {
    const g = expandGrid(sweep(grid3x4x3), ["m"]);
    expect(g.cells).toHaveLength(36);
    expect(g.gridSize).toBe(36);
    expect(g.excluded).toBe(0);
    expect(g.cells.every((c) => c.modelId === "m")).toBe(true);
  });

  it("is models × points", () => {
    const s = sweep("sampling:\n  temperature: [0, 1]\n");
    const g = expandGrid(s, ["m1", "m2", "m3"]);
    expect(g.gridSize).toBe(6);
    expect(g.cells.map((c) => `${c.modelId}:${c.settings.sampling.temperature}`).sort()).toEqual(["m1:0", "m1:1", "m2:0", "m2:1", "m3:0", "m3:1"]);
    expect(expandGrid(s, []).cells).toEqual([]);
  });

  it("a rule drops only cells matching all of its fields", () => {
    const s = sweep(`${grid3x4x3}\nexclude:\n  - {temperature: 0, topP: 0.9}\n  - {temperature: 0, topP: 0.5}\n`);
    const g = expandGrid(s, ["m"]);
    expect(g.gridSize).toBe(36);
    expect(g.excluded).toBe(6);
    expect(g.cells).toHaveLength(30);
    expect(g.cells.some((c) => c.settings.sampling.temperature === 0 && (c.settings.sampling.topP === 0.9 || c.settings.sampling.topP === 0.5))).toBe(false);
    // temperature 0 alone, or topP 0.9 alone, is kept.
    expect(g.cells.filter((c) => c.settings.sampling.temperature === 0)).toHaveLength(6);
    expect(g.cells.filter((c) => c.settings.sampling.topP === 0.9)).toHaveLength(6);
  });

  it("dotted paths match like short names", () => {
    const short = expandGrid(sweep(`${grid3x4x3}\nexclude:\n  - {temperature: 1, topP: 0.8}\n`), ["m"]);
    const dotted = expandGrid(sweep(`${grid3x4x3}\nexclude:\n  - {sampling.temperature: 1, sampling.topP: 0.8}\n`), ["m"]);
    expect(short.excluded).toBe(3);
    expect(dotted.excluded).toBe(3);
    expect(dotted.cells).toEqual(short.cells);
  });

  it("`prompt` matches the variant name and `model` the model id", () => {
    const byPrompt = expandGrid(sweep(`${grid3x4x3}\nexclude:\n  - {prompt: b}\n`), ["m1", "m2"]);
    expect(byPrompt.gridSize).toBe(72);
    expect(byPrompt.excluded).toBe(24);
    expect(byPrompt.cells.some((c) => c.settings.prompt.name === "b")).toBe(false);

    const byModel = expandGrid(sweep(`${grid3x4x3}\nexclude:\n  - {model: m2, prompt: c}\n  - {model: m1, temperature: 0}\n`), ["m1", "m2"]);
    expect(byModel.excluded).toBe(12 + 12);
    expect(byModel.cells.some((c) => c.modelId === "m2" && c.settings.prompt.name === "c")).toBe(false);
    expect(byModel.cells.some((c) => c.modelId === "m1" && c.settings.sampling.temperature === 0)).toBe(false);
    expect(byModel.cells.filter((c) => c.modelId === "m1" && c.settings.prompt.name === "c")).toHaveLength(8);
    expect(byModel.cells.filter((c) => c.modelId === "m2" && c.settings.sampling.temperature === 0)).toHaveLength(8);
  });

  it("runtime settings match by short name (threads) and with auto/max words", () => {
    const s = sweep("runtime:\n  threads: [auto, 2, 4]\n  gpuLayers: [max, 0]\nexclude:\n  - {threads: auto, gpuLayers: max}\n  - {threads: 4}\n");
    const g = expandGrid(s, ["m"]);
    expect(g.gridSize).toBe(6);
    expect(g.excluded).toBe(3);
    expect(g.cells.map((c) => c.settings.runtime)).toEqual([
      { threads: "auto", gpuLayers: 0 },
      { threads: 2, gpuLayers: "max" },
      { threads: 2, gpuLayers: 0 },
    ]);
  });

  it("a rule that matches nothing excludes nothing", () => {
    const g = expandGrid(sweep(`${grid3x4x3}\nexclude:\n  - {temperature: 0.25}\n  - {model: nobody}\n`), ["m"]);
    expect(g.excluded).toBe(0);
    expect(g.cells).toHaveLength(36);
  });

  describe("sample", () => {
    const big = [
      "sampling:",
      "  temperature: [0, 0.2, 0.4, 0.6, 0.8, 1]",
      "  topP: [1, 0.95, 0.9, 0.8, 0.7, 0.5]",
      "  topK: [0, 20, 40]",
    ].join("\n");
    const ids = (g: ReturnType<typeof expandGrid>) => g.cells.map((c) => `${c.modelId}/${c.settings.sampling.temperature}/${c.settings.sampling.topP}/${c.settings.sampling.topK}`);
    const allIds = ids(expandGrid(sweep(big), ["m1", "m2"]));

    it("picks N cells, deterministically for a seed, in grid order", () => {
      const a = expandGrid(sweep(`${big}\nsample: 20\nseed: 3\n`), ["m1", "m2"]);
      const b = expandGrid(sweep(`${big}\nsample: 20\nseed: 3\n`), ["m1", "m2"]);
      expect(a.cells).toHaveLength(20);
      expect(a.gridSize).toBe(216);
      expect(a.excluded).toBe(0);
      expect(ids(a)).toEqual(ids(b));
      // A subset of the grid, without repeats, in the grid's own order.
      const positions = ids(a).map((id) => allIds.indexOf(id));
      expect(positions.every((p) => p >= 0)).toBe(true);
      expect(new Set(positions).size).toBe(20);
      expect([...positions].sort((x, y) => x - y)).toEqual(positions);
    });

    it("another seed gives a different subset", () => {
      const subsets = [1, 2, 3, 42].map((seed) => ids(expandGrid(sweep(`${big}\nsample: 20\nseed: ${seed}\n`), ["m1", "m2"])).join("|"));
      expect(new Set(subsets).size).toBe(4);
    });

    it("samples among the cells left after exclusion", () => {
      const g = expandGrid(sweep(`${big}\nexclude:\n  - {temperature: 0}\nsample: 50\nseed: 5\n`), ["m1", "m2"]);
      expect(g.gridSize).toBe(216);
      expect(g.excluded).toBe(36);
      expect(g.cells).toHaveLength(50);
      expect(g.cells.some((c) => c.settings.sampling.temperature === 0)).toBe(false);
    });

    it("N at least the grid keeps every cell", () => {
      expect(ids(expandGrid(sweep(`${big}\nsample: 216\n`), ["m1", "m2"]))).toEqual(allIds);
      expect(ids(expandGrid(sweep(`${big}\nsample: 1000\n`), ["m1", "m2"]))).toEqual(allIds);
    });
  });
});

// ───────────────────────────── sweptPaths ─────────────────────────────

describe("sweptPaths", () => {
  it("lists only the settings that vary", () => {
    const s = sweep(
      [
        "sampling:",
        "  temperature: [0, 1]",
        "  topP: 0.9", // set but not swept
        "  stop: [[a], [b]]",
        "runtime:",
        "  threads: 4",
        "  gpuLayers: [auto, max]",
        "parallel: [1, 2]",
        "prompts:",
        "  - name: a",
        "  - name: b",
      ].join("\n"),
    );
    const one = expandGrid(s, ["m"]);
    expect(sweptPaths(one.cells).sort()).toEqual(["parallel", "prompt.name", "runtime.gpuLayers", "sampling.stop", "sampling.temperature"].sort());
    const two = expandGrid(s, ["m1", "m2"]);
    expect(sweptPaths(two.cells)).toContain("model");
  });

  it("is empty for a single cell, and ignores values removed by exclusion", () => {
    expect(sweptPaths(expandGrid(sweep(""), ["m"]).cells)).toEqual([]);
    const g = expandGrid(sweep("sampling:\n  temperature: [0, 1]\n  topP: [1, 0.5]\nexclude:\n  - {temperature: 1}\n"), ["m"]);
    expect(sweptPaths(g.cells)).toEqual(["sampling.topP"]);
  });
});

// ───────────────────────────── planRun ─────────────────────────────

describe("planRun", () => {
  const suite = makeSuite();
  const m1 = model("m1");

  it("cell ids are <modelId>@<12 hex>, stable across calls and separate parses", () => {
    const text = "sampling:\n  temperature: [0, 0.7]\n  topP: [1, 0.9]\n";
    const a = planRun(suite, [m1], sweep(text));
    const b = planRun(suite, [m1], sweep(text));
    const again = planRun(suite, [m1], sweep(text, "elsewhere/other-name.yaml"));
    expect(a.cells).toHaveLength(4);
    for (const c of a.cells) expect(c.id).toMatch(/^m1@[0-9a-f]{12}$/);
    expect(new Set(a.cells.map((c) => c.id)).size).toBe(4);
    expect(b.cells.map((c) => c.id)).toEqual(a.cells.map((c) => c.id));
    expect(again.cells.map((c) => c.id)).toEqual(a.cells.map((c) => c.id));
    // The same call twice on the same sweep object.
    const s = sweep(text);
    expect(planRun(suite, [m1], s).cells.map((c) => c.id)).toEqual(planRun(suite, [m1], s).cells.map((c) => c.id));
  });

  it("a setting written out at its default gives the same cell as leaving it out", () => {
    const implicit = planRun(suite, [m1], sweep(""));
    const explicit = planRun(suite, [m1], sweep("sampling:\n  temperature: 0\n  topP: 1\n  stop: []\nsamples: 1\nruntime:\n  threads: auto\n"));
    expect(explicit.cells[0]!.id).toBe(implicit.cells[0]!.id);
  });

  it("the same settings in a bigger sweep keep their cell id", () => {
    const single = planRun(suite, [m1], sweep("sampling:\n  temperature: 0.7\n")).cells[0]!;
    const swept = planRun(suite, [m1], sweep("sampling:\n  temperature: [0, 0.7, 1]\n")).cells;
    expect(swept.map((c) => c.id)).toContain(single.id);
  });

  it.each([
    ["temperature", "sampling:\n  temperature: 0.1\n"],
    ["topP", "sampling:\n  topP: 0.9\n"],
    ["topK", "sampling:\n  topK: 5\n"],
    ["minP", "sampling:\n  minP: 0.1\n"],
    ["repeatPenalty", "sampling:\n  repeatPenalty: 1.2\n"],
    ["repeatLastN", "sampling:\n  repeatLastN: 8\n"],
    ["sampling seed", "sampling:\n  seed: 1\n"],
    ["maxTokens", "sampling:\n  maxTokens: 9\n"],
    ["stop", "sampling:\n  stop: [x]\n"],
    ["samples", "samples: 2\n"],
    ["parallel", "parallel: 2\n"],
    ["timeoutMs", "timeoutMs: 1000\n"],
    ["threads", "runtime:\n  threads: 3\n"],
    ["contextSize", "runtime:\n  contextSize: 1024\n"],
    ["batchSize", "runtime:\n  batchSize: 32\n"],
    ["gpuLayers", "runtime:\n  gpuLayers: 0\n"],
    ["flashAttention", "runtime:\n  flashAttention: true\n"],
    ["kvCacheType", "runtime:\n  kvCacheType: q8_0\n"],
    ["prompt template", "prompts:\n  - name: suite\n    template: 'Question {{q}}'\n"],
    ["system", "prompts:\n  - name: suite\n    system: be brief\n"],
    ["fewShot", "prompts:\n  - name: suite\n    fewShot: 1\n"],
    ["answerSeparator", "prompts:\n  - name: suite\n    fewShot: 1\n    answerSeparator: ' '\n"],
  ])("a different %s gives a different cell id", (_, text) => {
    const base = planRun(suite, [m1], sweep("")).cells[0]!.id;
    const other = planRun(suite, [m1], sweep(text)).cells[0]!.id;
    expect(other).toMatch(/^m1@[0-9a-f]{12}$/);
    expect(other).not.toBe(base);
  });

  it("a different suite hash or model sha256 gives a different cell id", () => {
    const s = sweep("");
    const base = planRun(suite, [m1], s).cells[0]!.id;
    const otherSuite = makeSuite({ tasks: [{ id: "t1", vars: { q: "1+1" }, expected: "3" }, { id: "t2", vars: { q: "2+2" }, expected: "4" }, { id: "t3", vars: { q: "3*3" }, expected: "9" }] });
    expect(otherSuite.hash).not.toBe(suite.hash);
    expect(planRun(otherSuite, [m1], s).cells[0]!.id).not.toBe(base);
    expect(planRun(suite, [model("m1", {}, "b".repeat(64))], s).cells[0]!.id).not.toBe(base);
    // A different manifest runtime (not overridden by the profile) too.
    expect(planRun(suite, [model("m1", { contextSize: 4096 })], s).cells[0]!.id).not.toBe(base);
    // Same content, another model id: the prefix differs.
    expect(planRun(suite, [model("m9")], s).cells[0]!.id).toMatch(/^m9@/);
  });

  it("runtime overrides from the profile are merged over the manifest's runtime", () => {
    const m = model("m1", { threads: 8, contextSize: 4096, batchSize: 256, kvCacheType: "f16", binary: "prebuilt", gpu: "cpu" });
    const plan = planRun(suite, [m], sweep("runtime:\n  contextSize: [512, 1024]\n  kvCacheType: q8_0\n"));
    expect(plan.cells.map((c) => c.runtime)).toEqual([
      { threads: 8, gpuLayers: "auto", contextSize: 512, batchSize: 256, flashAttention: false, kvCacheType: "q8_0", binary: "prebuilt", gpu: "cpu", engine: "embedded" },
      { threads: 8, gpuLayers: "auto", contextSize: 1024, batchSize: 256, flashAttention: false, kvCacheType: "q8_0", binary: "prebuilt", gpu: "cpu", engine: "embedded" },
    ]);
    // Without overrides, the manifest's runtime as is.
    expect(planRun(suite, [m], sweep("")).cells[0]!.runtime).toEqual(m.spec.runtime);
    // The manifest itself is not changed.
    expect(m.spec.runtime.contextSize).toBe(4096);
  });

  it("cells of one model are contiguous, models in the order given", () => {
    const s = sweep("sampling:\n  temperature: [0, 1]\nruntime:\n  gpuLayers: [0, max]\n  threads: [1, 2]\n");
    const plan = planRun(suite, [model("b"), model("a"), model("c")], s);
    expect(plan.cells).toHaveLength(24);
    const runs = plan.cells.map((c) => c.modelId).filter((id, i, all) => i === 0 || all[i - 1] !== id);
    expect(runs).toEqual(["b", "a", "c"]);
    // Within a model, cells sharing a host are contiguous too.
    const hosts = plan.cells.map((c) => c.hostKey).filter((k, i, all) => i === 0 || all[i - 1] !== k);
    expect(new Set(hosts).size).toBe(hosts.length);
    expect(hosts).toHaveLength(6);
  });

  it("after a random sample, cells of one model and of one host are still contiguous", () => {
    const s = sweep("sampling:\n  temperature: [0, 0.5, 1]\nruntime:\n  gpuLayers: [0, 10, max]\nsample: 12\nseed: 4\n");
    const plan = planRun(suite, [model("x"), model("y"), model("z")], s);
    expect(plan.cells).toHaveLength(12);
    const seen: string[] = [];
    for (const c of plan.cells) {
      if (seen.at(-1) !== c.modelId) {
        expect(seen).not.toContain(c.modelId);
        seen.push(c.modelId);
      }
    }
    const hosts = plan.cells.map((c) => c.hostKey).filter((k, i, all) => i === 0 || all[i - 1] !== k);
    expect(new Set(hosts).size).toBe(hosts.length);
  });

  it("hostKey ignores context-level settings and changes with gpuLayers", () => {
    const s = sweep(
      [
        "sampling:",
        "  temperature: [0, 1]",
        "  topP: [1, 0.5]",
        "samples: [1, 2]",
        "parallel: [1, 4]",
        "timeoutMs: [1000, 2000]",
        "runtime:",
        "  threads: [auto, 2]",
        "  contextSize: [512, 1024]",
        "  flashAttention: [false, true]",
        "prompts:",
        "  - name: a",
        "  - name: b",
        "    fewShot: 1",
      ].join("\n"),
    );
    const plan = planRun(suite, [m1], s);
    expect(plan.cells).toHaveLength(2 ** 9);
    expect(new Set(plan.cells.map((c) => c.hostKey)).size).toBe(1);
    expect(new Set(plan.cells.map((c) => c.id)).size).toBe(2 ** 9);

    const gpu = planRun(suite, [m1], sweep("runtime:\n  gpuLayers: [auto, max, 0, 12]\n  threads: [1, 2]\n"));
    expect(new Set(gpu.cells.map((c) => c.hostKey)).size).toBe(4);
    for (const layers of ["auto", "max", 0, 12]) {
      const group = gpu.cells.filter((c) => c.runtime.gpuLayers === layers);
      expect(group).toHaveLength(2);
      expect(group[0]!.hostKey).toBe(group[1]!.hostKey);
    }
    // Different models never share a host.
    const two = planRun(suite, [model("m1"), model("m2")], sweep(""));
    expect(two.cells[0]!.hostKey).not.toBe(two.cells[1]!.hostKey);
  });

  it("label holds only the swept settings, as strings", () => {
    const s = sweep(
      [
        "sampling:",
        "  temperature: [0, 0.5]",
        "  topP: 0.9",
        "runtime:",
        "  threads: [auto, 4]",
        "  flashAttention: true",
        "prompts:",
        "  - name: plain",
        "  - name: fancy",
        "    template: 'Question: {{q}}'",
      ].join("\n"),
    );
    const plan = planRun(suite, [m1], s);
    expect(plan.swept.sort()).toEqual(["prompt.name", "runtime.threads", "sampling.temperature"]);
    expect(plan.cells).toHaveLength(8);
    expect(plan.cells[0]!.label).toEqual({ "prompt.name": "plain", "sampling.temperature": "0", "runtime.threads": "auto" });
    expect(plan.cells.at(-1)!.label).toEqual({ "prompt.name": "fancy", "sampling.temperature": "0.5", "runtime.threads": "4" });
    for (const c of plan.cells) for (const v of Object.values(c.label)) expect(typeof v).toBe("string");
    // Nothing swept: an empty label.
    expect(planRun(suite, [m1], sweep("sampling:\n  temperature: 0.5\n")).cells[0]!.label).toEqual({});
  });

  it("reports the grid size, the excluded count and the swept paths", () => {
    const plan = planRun(suite, [model("a"), model("b")], sweep("sampling:\n  temperature: [0, 1]\nexclude:\n  - {model: b, temperature: 1}\n"));
    expect(plan.gridSize).toBe(4);
    expect(plan.excluded).toBe(1);
    expect(plan.cells).toHaveLength(3);
    expect(plan.swept.sort()).toEqual(["model", "sampling.temperature"]);
  });

  it("maxTokens falls back to the suite's; the profile's overrides it", () => {
    const s8 = makeSuite({ maxTokens: 8 });
    expect(planRun(s8, [m1], sweep("")).cells[0]!.maxTokens).toBe(8);
    expect(planRun(makeSuite({ maxTokens: 33 }), [m1], sweep("")).cells[0]!.maxTokens).toBe(33);
    expect(planRun(s8, [m1], sweep("sampling:\n  maxTokens: [4, 12]\n")).cells.map((c) => c.maxTokens)).toEqual([4, 12]);
  });
});

// ───────────────────────────── promptText ─────────────────────────────

describe("promptText", () => {
  // Tasks written out of id order; some without a textual expected answer.
  const suite = makeSuite({
    prompt: "Q: {{q}}\nA:",
    scorer: "contains",
    tasks: [
      { id: "d", vars: { q: "4+4" }, expected: "8" },
      { id: "b", vars: { q: "2+2" }, expected: 4 },
      { id: "a", vars: { q: "list" }, expected: ["x", "y"] },
      { id: "e", vars: { q: "5+5" }, expected: "10" },
      { id: "c", vars: { q: "3+3" }, expected: "6" },
      { id: "f", vars: { q: "open" }, scorer: { type: "regex", pattern: "." } },
    ],
  });

  it("without few-shot is the rendered template", () => {
    expect(promptText(suite, DEFAULT_PROMPT, task(suite, "d"))).toBe("Q: 4+4\nA:");
    expect(promptText(suite, variant({ name: "x", answerSeparator: "!!", exampleSeparator: "##" }), task(suite, "a"))).toBe("Q: list\nA:");
  });

  it("few-shot N takes the first N tasks by id with a string or number expected", () => {
    const v = variant({ name: "fs", fewShot: 2, answerSeparator: " ", exampleSeparator: "\n---\n" });
    // "a" has a list expected, "f" none: the examples are b and c.
    expect(promptText(suite, v, task(suite, "e"))).toBe("Q: 2+2\nA: 4\n---\nQ: 3+3\nA: 6\n---\nQ: 5+5\nA:");
    expect(promptText(suite, v, task(suite, "f"))).toBe("Q: 2+2\nA: 4\n---\nQ: 3+3\nA: 6\n---\nQ: open\nA:");
    expect(promptText(suite, v, task(suite, "a"))).toBe("Q: 2+2\nA: 4\n---\nQ: 3+3\nA: 6\n---\nQ: list\nA:");
  });

  it("never shows the task itself: for the first example task the examples are the next ones", () => {
    const v = variant({ name: "fs", fewShot: 2, answerSeparator: " ", exampleSeparator: "\n" });
    expect(promptText(suite, v, task(suite, "b"))).toBe("Q: 3+3\nA: 6\nQ: 4+4\nA: 8\nQ: 2+2\nA:");
    expect(promptText(suite, v, task(suite, "c"))).toBe("Q: 2+2\nA: 4\nQ: 4+4\nA: 8\nQ: 3+3\nA:");
    for (const t of suite.tasks) {
      const text = promptText(suite, v, t);
      const own = `Q: ${t.vars.q}\nA:`;
      expect(text.endsWith(own)).toBe(true);
      expect(text.indexOf(own)).toBe(text.length - own.length);
      expect(text.split("\n").filter((l) => l.startsWith("Q: "))).toHaveLength(3);
    }
  });

  it("default separators: the answer continues the prompt, examples separated by a newline", () => {
    const v = variant({ name: "fs", fewShot: 1 });
    expect(promptText(suite, v, task(suite, "e"))).toBe("Q: 2+2\nA:4\nQ: 5+5\nA:");
  });

  it("few-shot larger than the examples available uses all of them", () => {
    const v = variant({ name: "fs", fewShot: 10, answerSeparator: " ", exampleSeparator: " | " });
    expect(promptText(suite, v, task(suite, "e"))).toBe("Q: 2+2\nA: 4 | Q: 3+3\nA: 6 | Q: 4+4\nA: 8 | Q: 5+5\nA:");
    expect(promptText(suite, v, task(suite, "b"))).toBe("Q: 3+3\nA: 6 | Q: 4+4\nA: 8 | Q: 5+5\nA: 10 | Q: 2+2\nA:");
  });

  it("a variant's own template replaces the suite's, for the examples too", () => {
    const v = variant({ name: "t", template: "{{q}} =" });
    expect(promptText(suite, v, task(suite, "d"))).toBe("4+4 =");
    const fs = variant({ name: "t", template: "{{q}} =", fewShot: 1, answerSeparator: " ", exampleSeparator: "; " });
    expect(promptText(suite, fs, task(suite, "d"))).toBe("2+2 = 4; 4+4 =");
  });

  it("variants parsed from a profile render through promptText", () => {
    const s = sweep("prompts:\n  - name: plain\n  - name: fs1\n    fewShot: 1\n    answerSeparator: ' '\n    exampleSeparator: ' / '\n");
    const [plain, fs1] = s.points.map((p) => p.prompt);
    expect(promptText(suite, plain!, task(suite, "c"))).toBe("Q: 3+3\nA:");
    expect(promptText(suite, fs1!, task(suite, "c"))).toBe("Q: 2+2\nA: 4 / Q: 3+3\nA:");
  });
});
