import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { graderId, judgePrompt, judgeSettings, parseVerdict, verdictSchema, verdictScore } from "../src/core/judge.js";
import { combineOrders, parsePreference, tallyPairs } from "../src/core/pairwise.js";
import type { GradeLine } from "../src/core/grades.js";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { heldout, readJsonl, ROOT, tempDir } from "./helpers/cli.js";

/**
 * Model-graded scoring: a local judge (stories260K through node-llama-cpp, its verdict held to a
 * JSON schema by a grammar) and embedding similarity, graded after generation, resumable, and
 * re-gradable without generating again.
 */

describe("judge verdicts, parsed strictly", () => {
  const s = judgeSettings({ type: "judge", model: "m", rubric: "fits the story" });
  it("reads a valid verdict, alone or inside text", () => {
    expect(parseVerdict('{"score": 4, "reason": "fits"}', 5)).toEqual({ ok: true, score: 4, reason: "fits" });
    expect(parseVerdict('Sure! {"score": 2, "reason": "a \\"brace\\" } inside"} thanks', 5)).toEqual({ ok: true, score: 2, reason: 'a "brace" } inside' });
    expect(parseVerdict('{"score": 5}', 5)).toEqual({ ok: true, score: 5, reason: "" });
  });
  it("refuses malformed, unfinished, non-integer and out-of-range verdicts", () => {
    expect(parseVerdict("I think it is good", 5)).toMatchObject({ ok: false, error: expect.stringMatching(/^no JSON object/) });
    expect(parseVerdict('{"score": 4, "reason": "cut', 5)).toMatchObject({ ok: false, error: expect.stringMatching(/^unfinished JSON/) });
    expect(parseVerdict("{score: 4}", 5)).toMatchObject({ ok: false, error: expect.stringMatching(/^malformed JSON/) });
    expect(parseVerdict('{"score": 3.5}', 5)).toMatchObject({ ok: false, error: expect.stringMatching(/whole number/) });
    expect(parseVerdict('{"score": "4"}', 5)).toMatchObject({ ok: false, error: expect.stringMatching(/whole number/) });
    expect(parseVerdict('{"score": 6}', 5)).toMatchObject({ ok: false, error: '"score" 6 is outside 1..5' });
    expect(parseVerdict('{"score": 0}', 5)).toMatchObject({ ok: false });
    expect(parseVerdict('{"score": 3, "reason": 7}', 5)).toMatchObject({ ok: false, error: '"reason" must be text' });
  });
  it("turns a verdict into a score: value on 0..1, a pass at the threshold", () => {
    expect(s.pass).toBe(4); // ceil(0.7 × 5)
    expect(verdictScore({ ok: true, score: 4, reason: "ok" }, s)).toEqual({ pass: true, value: 0.75, reason: "judge 4/5 (pass ≥ 4): ok" });
    expect(verdictScore({ ok: true, score: 3, reason: "" }, s).pass).toBe(false);
    expect(verdictScore({ ok: false, error: "x" }, s)).toEqual({ pass: false, value: 0, reason: "judge reply unusable: x" });
    expect(verdictSchema(s).properties.score).toEqual({ enum: [1, 2, 3, 4, 5] });
    expect(judgePrompt(s, { prompt: "P", output: "O", expected: "E" })).toMatch(/Rubric: fits the story[\s\S]*Task:\nP[\s\S]*Reference answer:\nE[\s\S]*Answer to grade:\nO/);
    expect(judgePrompt(s, { prompt: "P", output: "O" })).not.toMatch(/Reference answer/);
  });
  it("gives a new grader id when the rubric, the options or the judge file change", () => {
    const base = { type: "judge", model: "a.yaml", rubric: "r" };
    expect(graderId(base, "sha1")).toBe(graderId({ ...base, model: "elsewhere/a.yaml" }, "sha1"));
    expect(graderId(base, "sha1")).not.toBe(graderId({ ...base, rubric: "r2" }, "sha1"));
    expect(graderId(base, "sha1")).not.toBe(graderId({ ...base, pass: 2 }, "sha1"));
    expect(graderId(base, "sha1")).not.toBe(graderId(base, "sha2"));
  });
});

describe("pairwise judging in both orders", () => {
  it("counts a win only when both orders pick the same answer", () => {
    expect(combineOrders("1", "2")).toBe("a"); // A first: A; B first: the second answer, A
    expect(combineOrders("2", "1")).toBe("b");
    expect(combineOrders("tie", "tie")).toBe("tie");
    expect(combineOrders("1", "1")).toBe("inconsistent"); // always "the first one": position bias
    expect(combineOrders("2", "2")).toBe("inconsistent");
    expect(combineOrders("1", "tie")).toBe("inconsistent");
    expect(combineOrders(null, "1")).toBe("unusable");
  });
  it("reports the disagreement rate over the pairs judged in both orders", () => {
    const t = tallyPairs(["a", "a", "b", "tie", "inconsistent", "inconsistent", "unusable"]);
    expect(t).toEqual({ tasks: 7, aWins: 2, bWins: 1, ties: 1, inconsistent: 2, unusable: 1, disagreementRate: 2 / 6 });
    expect(parsePreference('{"better": "tie", "reason": "same"}')).toEqual({ ok: true, better: "tie" });
    expect(parsePreference('{"better": 1}')).toMatchObject({ ok: false });
  });
});

/** tinystories' first 12 tasks, graded by `scorer`. */
function suiteWith(scorer: string, tasks?: (t: Record<string, unknown>) => Record<string, unknown> | null, freeze = true): string {
  const dir = join(tempDir("heldout-judge-suite-"), "judged");
  mkdirSync(dir);
  const lines = readFileSync(join(ROOT, "tasks/tinystories/tasks.jsonl"), "utf8").trim().split("\n").slice(0, 12).map((l) => JSON.parse(l) as Record<string, unknown>);
  const kept = lines.map((t) => (delete t.scorer, tasks ? tasks(t) : t)).filter((t): t is Record<string, unknown> => t !== null);
  writeFileSync(join(dir, "tasks.jsonl"), kept.map((t) => JSON.stringify(t)).join("\n") + "\n");
  writeFileSync(join(dir, "suite.yaml"), `name: judged\nprompt: "{{text}}"\nscorer:\n${scorer}\nmaxTokens: 8\nchatTemplate: never\n`);
  if (freeze) expect(heldout(["freeze", dir]).code).toBe(0);
  return dir;
}

describe("the judge scorer, end to end with stories260K as the judge", () => {
  const out = tempDir("heldout-judge-");
  const suite = suiteWith('  type: judge\n  model: models/stories260k.yaml\n  rubric: "The answer continues the story with a fitting word."\n  pass: 3');
  const run = heldout(["run", "--suite", suite, "--model", "models/stories260k.yaml", "--out", out, "--run-id", "j", "--json", "-q"]);
  const dir = join(out, "j");

  it("grades every generation after the run, with a verdict the grammar kept to the schema", () => {
    expect(run.code, run.stderr).toBe(0);
    const grades = readJsonl<GradeLine>(join(dir, "grades.jsonl"));
    expect(grades).toHaveLength(12);
    for (const g of grades) {
      expect(g.type).toBe("judge");
      expect(g.graderModel).toBe("stories260k");
      expect(g.promptSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(g.rubricSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(typeof g.raw).toBe("string");
      // The grammar holds a 260K-parameter story model to the verdict format.
      expect(g.error).toBeNull();
      expect(g.parsed?.score).toBeGreaterThanOrEqual(1);
      expect(g.parsed?.score).toBeLessThanOrEqual(5);
      expect(g.score.reason).toMatch(/^judge [1-5]\/5 \(pass ≥ 3\)/);
    }
    // The summary is made from the grades.
    const summary = JSON.parse(run.stdout) as Summary;
    expect(summary.cells[0]?.passed).toBe(grades.filter((g) => g.score.pass).length);
    expect(summary.warnings ?? []).toEqual([]);
  });

  it("re-judging reuses the generations; another judge adds its grades beside the old ones", () => {
    const records = readFileSync(join(dir, "records.jsonl"), "utf8");
    const again = heldout(["judge", "j", "--results", out]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^judge stories260k \(judge@\w+\): 0 graded now, 12 already graded$/m);
    // The same file under another path is the same judge; a different file is a new grader.
    const same = heldout(["judge", "j", "--results", out, "--judge", "../shared/models/stories260K.gguf"]);
    expect(same.stdout).toMatch(/: 0 graded now, 12 already graded$/m);
    const other = heldout(["judge", "j", "--results", out, "--judge", "models/stories260k-chat.yaml"]);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).toMatch(/: 12 graded now, 0 already graded$/m);
    expect(readFileSync(join(dir, "records.jsonl"), "utf8")).toBe(records); // nothing generated again
    const grades = readJsonl<GradeLine>(join(dir, "grades.jsonl"));
    expect(new Set(grades.map((g) => g.graderId)).size).toBe(2);
    // The newest grade applies: records as loaded for reports and exports carry it.
    const exported = heldout(["export", "j", "--results", out, "--format", "jsonl", "--table", "records"]);
    const rows = exported.stdout.trim().split("\n").map((l) => JSON.parse(l) as RunRecord);
    expect(rows.every((r) => r.grade?.graderId === grades.at(-1)?.graderId)).toBe(true);
  });

  it("a suite whose judge has no rubric is refused before any model loads, naming the field", () => {
    const bad = suiteWith("  type: judge\n  model: models/stories260k.yaml", undefined, false);
    for (const r of [heldout(["freeze", bad]), heldout(["run", "--suite", bad, "--allow-unfrozen", "--model", "models/stories260k.yaml", "--out", out, "-q"])]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/suite\.yaml.*rubric.*needs a rubric/);
    }
  });

  it("pairwise: two cells judged in both orders, resumable", () => {
    const profile = join(out, "two.yaml");
    writeFileSync(profile, "name: two\nsampling: {temperature: [0, 1.2], topP: 1, topK: 0, minP: 0, repeatPenalty: 1, seed: 5}\n");
    const r = heldout(["run", "--suite", suite, "--model", "models/stories260k.yaml", "--profile", profile, "--out", out, "--run-id", "pw", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const [a, b] = (JSON.parse(r.stdout) as Summary).cells.map((c) => c.cellId);
    const p = heldout(["judge", "pw", "--results", out, "--pairwise", `${a},${b}`]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/judged by stories260k in both orders \(pairwise@\w+\) on 12 task\(s\):/);
    expect(p.stdout).toMatch(/wins \d+, .* wins \d+, ties \d+, inconsistent \(the order decided\) \d+/);
    expect(p.stdout).toMatch(/position disagreement rate: \d+\.\d%/);
    const lines = readJsonl<{ order: string }>(join(out, "pw", "pairwise.jsonl"));
    expect(lines).toHaveLength(24);
    expect(lines.filter((l) => l.order === "ab")).toHaveLength(12);
    const again = heldout(["judge", "pw", "--results", out, "--pairwise", `${a},${b}`]);
    expect(again.stderr).not.toMatch(/judging \d+ ordered pair/);
    expect(readJsonl(join(out, "pw", "pairwise.jsonl"))).toHaveLength(24);
  });
});

describe("the similarity scorer (stories260K as a poor embedding model)", () => {
  it("scores an output identical to the expected text at cosine 1, and others below", () => {
    const out = tempDir("heldout-similarity-");
    // First learn what the model writes (greedy), then expect exactly that for half the tasks.
    const probe = suiteWith('  type: regex\n  pattern: ".*"', (t) => { const { expected: _e, ...rest } = t; return rest; });
    expect(heldout(["run", "--suite", probe, "--model", "models/stories260k.yaml", "--out", out, "--run-id", "probe", "-q"]).code).toBe(0);
    const outputs = new Map(readJsonl<RunRecord>(join(out, "probe", "records.jsonl")).map((r) => [r.taskId, r.output]));
    let i = 0;
    const suite = suiteWith("  type: similarity\n  model: models/stories260k.yaml\n  threshold: 0.999", (t) => ({ ...t, expected: i++ % 2 === 0 ? (outputs.get(t.id as string) as string) : "The dragon flew over the mountains." }));
    const r = heldout(["run", "--suite", suite, "--model", "models/stories260k.yaml", "--out", out, "--run-id", "sim", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const grades = readJsonl<GradeLine>(join(out, "sim", "grades.jsonl"));
    expect(grades).toHaveLength(12);
    const same = grades.filter((g) => g.taskId !== undefined && outputs.get(g.taskId) !== undefined).filter((_, k) => k % 2 === 0);
    for (const g of same) expect(g.similarity as number).toBeCloseTo(1, 5);
    for (const g of grades) expect(Math.abs(g.similarity as number)).toBeLessThanOrEqual(1 + 1e-9);
    expect(grades.filter((g) => g.score.pass).length).toBeGreaterThanOrEqual(6);
    expect(grades.some((g) => !g.score.pass)).toBe(true);
  });
});

describe("rubric criteria graded by a judge and by people", () => {
  it("a judge criterion takes its grade after the run; a people criterion counts once rated", () => {
    const out = tempDir("heldout-rubric-graded-");
    const suite = suiteWith('  type: regex\n  pattern: "^\\\\W*([A-Za-z]+)"');
    const yaml = readFileSync(join(suite, "suite.yaml"), "utf8");
    writeFileSync(
      join(suite, "suite.yaml"),
      `${yaml}rubrics:\n  mixed:\n    - {name: one word, scorer: {type: regex, pattern: "[A-Za-z]"}, weight: 1}\n    - {name: judged, scorer: {type: judge, model: models/stories260k.yaml, rubric: "A fitting word."}, weight: 1}\n    - {name: people, scorer: people, weight: 2}\n`,
    );
    expect(heldout(["freeze", suite]).code).toBe(0);
    const r = heldout(["run", "--suite", suite, "--model", "models/stories260k.yaml", "--out", out, "--run-id", "m", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const grades = readJsonl<GradeLine>(join(out, "m", "grades.jsonl"));
    expect(grades).toHaveLength(12); // the judge criterion, graded once per generation
    const records = readJsonl<RunRecord>(join(out, "m", "records.jsonl"));
    const s1 = JSON.parse(r.stdout) as Summary;
    const mixed = s1.cells[0]?.rubrics?.[0];
    expect(mixed?.pending).toBe(12); // nobody has rated yet
    // With the judge's grade in: (regex + judge value) ÷ 2 for each generation, people left out.
    const byTask = new Map(grades.map((g) => [g.taskId, g]));
    const expected = records.map((x) => (((/[A-Za-z]/.test(x.output) ? 1 : 0) + (byTask.get(x.taskId)?.score.value ?? 0)) / 2));
    expect(mixed?.mean).toBeCloseTo(expected.reduce((a, b) => a + b, 0) / expected.length, 12);
    // A person rates every output 5: the people criterion (weight 2) now counts, value 1.
    const lines = records.map((x, i) => JSON.stringify({ rater: "ann", time: new Date().toISOString(), runId: "m", item: `i${i}`, taskId: x.taskId, sample: x.sample, area: x.area, seed: 1, position: i + 1, mode: "score", cellId: x.cellId, score: 5 }));
    writeFileSync(join(out, "m", "ratings.jsonl"), `${lines.join("\n")}\n`);
    expect(heldout(["judge", "m", "--results", out]).code).toBe(0); // regrades nothing, rewrites the summary
    const s2 = JSON.parse(readFileSync(join(out, "m", "summary.json"), "utf8")) as Summary;
    const after = records.map((x) => ((/[A-Za-z]/.test(x.output) ? 1 : 0) + (byTask.get(x.taskId)?.score.value ?? 0) + 2) / 4);
    expect(s2.cells[0]?.rubrics?.[0]?.pending).toBe(0);
    expect(s2.cells[0]?.rubrics?.[0]?.mean).toBeCloseTo(after.reduce((a, b) => a + b, 0) / after.length, 12);
  });
});
