import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { heldout, readJsonl, tempDir } from "./helpers/cli.js";

/**
 * tasks/code-mini (10 Python and JavaScript tasks) scored end to end through `backend: outputs`
 * with three planted output sets, by running their tests in the sandbox; its two rubrics rank
 * them as expected and the disagreement between them is shown.
 */
const out = tempDir("heldout-code-");
const sets = ["correct", "broken", "empty"].flatMap((s) => ["--model", `test/fixtures/code-mini/${s}.yaml`]);
const run = heldout(["run", "--suite", "tasks/code-mini", ...sets, "--out", out, "--run-id", "c", "--json", "-q"]);

describe("code-mini through backend: outputs, with two rubrics", () => {
  it("runs every output's tests: correct passes all, broken fails naming the test, empty has no code", () => {
    expect(run.code, run.stderr).toBe(0);
    const s = JSON.parse(run.stdout) as Summary;
    expect(s.cells.map((c) => [c.modelId, c.passRate])).toEqual([["code-correct", 1], ["code-broken", 0], ["code-empty", 0]]);
    expect(s.cells[0]?.areas.map((a) => [a.area, a.n])).toEqual([["javascript", 5], ["python", 5]]);
    const records = readJsonl<RunRecord>(join(out, "c", "records.jsonl"));
    const broken = records.find((r) => r.modelId === "code-broken" && r.taskId === "py-fact") as RunRecord;
    expect(broken.score.reason).toMatch(/^1\/2 tests passed; first failure "#2 assert fact\(5\) == 120"/);
    const empty = records.find((r) => r.modelId === "code-empty") as RunRecord;
    expect(empty.score.reason).toMatch(/no code in the output/);
  });

  it("'works' ranks correct first, 'looks' ranks the tidy broken code first, and the disagreement is shown", () => {
    const s = JSON.parse(run.stdout) as Summary;
    const rubric = (model: string, name: string) => s.cells.find((c) => c.modelId === model)?.rubrics?.find((r) => r.name === name);
    expect(rubric("code-correct", "works")).toMatchObject({ mean: 1, gated: 0, n: 10 });
    expect(rubric("code-broken", "works")).toMatchObject({ mean: 0, gated: 10 });
    expect(rubric("code-empty", "works")).toMatchObject({ mean: 0, gated: 10 });
    expect(rubric("code-broken", "looks")?.mean).toBe(1);
    expect(rubric("code-correct", "looks")?.mean).toBe(0);
    const [d] = s.rubricDisagreements ?? [];
    expect(d?.rubrics).toEqual(["works", "looks"]);
    expect(d?.pairs).toHaveLength(1);
    expect(d?.pairs[0]).toMatchObject({ first: "a", second: "b" });
    expect(d?.tau).toBe(-1);
    const show = heldout(["show", join(out, "c")]);
    expect(show.stdout).toMatch(/works and looks disagree \(τ -1\.00\):\n\s+works ranks code-correct@\w+ above code-broken@\w+; looks the other way/);
    const [correct, broken] = s.cells.map((c) => c.cellId);
    const cmp = heldout(["compare", `c:${correct}`, `c:${broken}`, "--out", out]);
    expect(cmp.stdout).toMatch(/rubrics \(mean score 0–1, 95% bootstrap interval\):/);
    expect(cmp.stdout).toMatch(/the rubrics disagree on which cell is better/);
    const html = readFileSync(join(out, "c", "report.html"), "utf8");
    expect(html).toContain('<section id="rubrics">');
    expect(html).toMatch(/works and looks disagree/);
  });
});
