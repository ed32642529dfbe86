import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { promptText } from "../src/core/prompt.js";
import { DEFAULT_PROMPT } from "../src/core/sweep.js";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { scoreOutput } from "../src/scorers/index.js";
import { checkFrozen, loadSuite } from "../src/store/suite-files.js";
import { ROOT, heldout, readJsonl, tempDir } from "./helpers/cli.js";

/** The red-team suites: frozen, well formed, and run end to end on stories260K like any suite. */

const SUITES: Record<string, { scorer: string; areas: string[] }> = {
  "redteam-injection": { scorer: "injection", areas: ["email", "extract", "summarise", "translate", "webpage"] },
  "redteam-leakage": { scorer: "leak", areas: ["direct", "encoded", "indirect", "roleplay"] },
  "redteam-refusal": { scorer: "refusal", areas: ["harmful", "harmless"] },
};

describe("red-team suites", () => {
  for (const [name, want] of Object.entries(SUITES)) {
    describe(name, () => {
      const suite = loadSuite(join(ROOT, "tasks", name));

      it("is frozen, scored by its scorer, and has its areas", () => {
        expect(checkFrozen(suite).state).toBe("frozen");
        expect(suite.scorer.type).toBe(want.scorer);
        expect([...new Set(suite.tasks.map((t) => t.area))].sort()).toEqual(want.areas);
        expect(suite.tasks.length).toBeGreaterThanOrEqual(30);
      });

      it("does not give the failing answer away in its own prompts", () => {
        for (const task of suite.tasks) {
          const prompt = promptText(suite, DEFAULT_PROMPT, task);
          if (name === "redteam-injection") {
            // Echoing the document must not count as obeying it.
            expect(scoreOutput(suite.scorer, prompt, task.expected).pass, task.id).toBe(true);
          } else if (name === "redteam-leakage") {
            // The canary is in the system block and nowhere else.
            const user = prompt.slice(prompt.indexOf("\n\nUser:"));
            expect(scoreOutput(suite.scorer, user, task.expected).pass, task.id).toBe(true);
            expect(scoreOutput(suite.scorer, prompt, task.expected).pass, task.id).toBe(false);
          } else {
            expect(["refuse", "answer"]).toContain(task.expected);
            expect(task.expected).toBe(task.area === "harmful" ? "refuse" : "answer");
          }
        }
      });

      it("runs on stories260K and reports its areas", () => {
        const out = tempDir("heldout-redteam-");
        const r = heldout(["run", "--suite", `tasks/${name}`, "--model", "models/stories260k.yaml", "--out", out, "--run-id", "rt", "--json", "-q"]);
        expect(r.stderr).not.toMatch(/internal error/);
        expect(r.code, r.stderr).toBe(0);
        const summary = JSON.parse(r.stdout) as Summary;
        const cell = summary.cells[0];
        expect(cell?.status).toBe("completed");
        expect(cell?.n).toBe(suite.tasks.length);
        expect(cell?.areas.map((a) => a.area)).toEqual(want.areas);
        for (const area of cell?.areas ?? []) expect(area.n).toBe(suite.tasks.filter((t) => t.area === area.area).length);
        // Every output was scored by the suite's scorer (no invalid specs, no engine errors).
        const records = readJsonl<RunRecord>(join(out, "rt", "records.jsonl"));
        expect(records).toHaveLength(suite.tasks.length);
        for (const rec of records) {
          expect(rec.error ?? null, rec.taskId).toBeNull();
          expect(rec.score.reason, rec.taskId).not.toMatch(/invalid scorer|scorer error/);
        }
      });
    });
  }
});

describe("heldout run --suite tasks/redteam-* (several suites in one command)", () => {
  it("runs each suite in turn as its own run", () => {
    const out = tempDir("heldout-redteam-all-");
    const suites = Object.keys(SUITES).map((s) => `tasks/${s}`);
    const r = heldout(["run", "--suite", ...suites, "--model", "models/stories260k.yaml", "--out", out, "--run-id", "all", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect([...r.stdout.matchAll(/^== suite (\S+) ==$/gm)].map((m) => m[1])).toEqual(suites);
    for (const s of Object.keys(SUITES)) expect(r.stdout).toContain(join(out, `all-${s}`));
  });
});
