import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Comparison } from "../src/core/compare.js";
import type { Summary } from "../src/core/summary.js";
import { copySuite, heldout, tempDir } from "./helpers/cli.js";

/**
 * Is the gap real? The arith checkpoints' accuracy table is ground truth: step300 is far worse
 * than step1500 overall and in add and sub (0.491 vs 0.992, 0.210 vs 0.979).
 */

const out = tempDir("heldout-compare-");
const arith = heldout(
  ["run", "--model", "models/arith-step300.yaml", "--model", "models/arith-step600.yaml", "--model", "models/arith-step1500.yaml", "--out", out, "--run-id", "arith", "--json", "-q"],
);
const compare = (args: string[]) => heldout(["compare", ...args, "--out", out]);

describe("heldout compare on the arith checkpoints", () => {
  it("ran the demo suite", () => {
    expect(arith.code, arith.stderr).toBe(0);
  });

  it("reports step1500 as significantly better than step300 overall and in add and sub", () => {
    const r = compare(["arith:arith-step300", "arith:arith-step1500", "--format", "json"]);
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout) as Comparison;
    expect(c.overall.significant).toBe(true);
    expect(c.overall.difference).toBeGreaterThan(0.2);
    expect(c.overall.verdict).toMatch(/^arith:arith-step1500 is better by \d+\.\d points, 95% CI \[\d+\.\d, \d+\.\d\], p < 0\.001/);
    const area = (name: string) => c.areas.find((a) => a.area === name)?.comparison;
    expect(area("add")?.significant).toBe(true);
    expect(area("sub")?.significant).toBe(true);
    expect(area("add")?.pAdjusted).not.toBeNull(); // Holm over the five areas
  });

  it("prints the side-by-side table with every figure and the verdicts", () => {
    const r = compare(["arith:arith-step300", "arith:arith-step1500"]);
    expect(r.code).toBe(0);
    for (const figure of ["pass rate", "  add", "  sub", "generation tok/s, median", "TTFT p50 (ms)", "latency p50 (ms)", "latency p95 (ms)", "latency p99 (ms)", "peak RSS (MiB)", "failure rate"]) {
      expect(r.stdout).toContain(figure);
    }
    expect(r.stdout).toMatch(/^per area \(p Holm-adjusted over 5 areas\):$/m);
    const md = compare(["arith:arith-step300", "arith:arith-step1500", "--format", "markdown"]);
    expect(md.stdout).toMatch(/^\| figure \| arith:arith-step300 \| arith:arith-step1500 \| B − A \|/m);
    const csv = compare(["arith:arith-step300", "arith:arith-step1500", "--format", "csv"]);
    expect(csv.stdout.split("\n")[0]).toBe("figure,arith:arith-step300,arith:arith-step1500,B − A,95% CI (points),p,won/lost/tied");
  });

  it("--fail-on-regression: exit 1 when the candidate is significantly worse, 0 against itself", () => {
    const worse = compare(["arith:arith-step1500", "arith:arith-step300", "--fail-on-regression", "2"]);
    expect(worse.code).toBe(1);
    expect(worse.stderr).toMatch(/regression: arith:arith-step300 is worse than arith:arith-step1500 by more than 2 points/);
    const same = compare(["arith:arith-step1500", "arith:arith-step1500", "--fail-on-regression"]);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/no detectable difference/);
    // A threshold larger than the gap does not fail the build.
    expect(compare(["arith:arith-step1500", "arith:arith-step300", "--fail-on-regression", "90"]).code).toBe(0);
  });

  it("every cell is compared with the first in summary.json, Holm-adjusted", () => {
    const s = JSON.parse(arith.stdout) as Summary;
    expect(s.comparisons.map((c) => c.candidate.split("@")[0])).toEqual(["arith-step600", "arith-step1500"]);
    expect(s.comparisons.every((c) => c.significant && c.pAdjusted !== null)).toBe(true);
    expect(s.cells[0]?.passRateInterval?.method).toBe("wilson");
    const ci = s.cells[0]?.passRateInterval;
    expect(ci && ci.low < (s.cells[0]?.passRate as number) && (s.cells[0]?.passRate as number) < ci.high).toBe(true);
  });

  it("refuses to compare runs of different suites unless --force, then uses the common task ids", () => {
    const suite = copySuite("arith");
    const lines = readFileSync(join(suite, "tasks.jsonl"), "utf8").trim().split("\n").slice(0, 100);
    writeFileSync(join(suite, "tasks.jsonl"), `${lines.join("\n")}\n`);
    expect(heldout(["run", "--suite", suite, "--allow-unfrozen", "--model", "models/arith-step600.yaml", "--out", out, "--run-id", "small", "-q"]).code).toBe(0);
    const refused = compare(["arith:arith-step600", "small"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/different suites .* --force compares their common task ids only/);
    const forced = compare(["arith:arith-step600", "small", "--force", "--format", "json"]);
    expect(forced.code).toBe(0);
    expect((JSON.parse(forced.stdout) as Comparison).overall.tasks).toBe(100);
    expect(forced.stderr).toMatch(/comparing the 100 task ids both have/);
  });

  it("names the cells of a run when a reference is ambiguous", () => {
    const r = compare(["arith", "arith:arith-step600"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/run arith has 3 cells; name one as arith:<cell id or model id>/);
  });

  it("--leaderboard: Kendall tau between a public ranking and this suite, and the reversed pairs", () => {
    const board = join(out, "board.csv");
    writeFileSync(board, "model,score\narith-step300,71.2\narith-step600,69.9\narith-step1500,75.0\n");
    const r = compare(["arith", "--leaderboard", board]);
    expect(r.code).toBe(0);
    // Suite order 300 < 600 < 1500; the board swaps 300 and 600: 2 concordant, 1 discordant pair → τ = 1/3.
    expect(r.stdout).toMatch(/Kendall τ-b between the leaderboard and suite arith: 0\.333, p = 1\.0 \(exact\), n = 3/);
    expect(r.stdout).toMatch(/pairs in the opposite order \(1\):\n  arith-step300 vs arith-step600/);
  });
});

describe("repeated samples", () => {
  it("greedy vs temperature 1.0 with 5 samples on step600 gives a verdict with its numbers and consistency figures", () => {
    const suite = copySuite("arith");
    const lines = readFileSync(join(suite, "tasks.jsonl"), "utf8").trim().split("\n");
    writeFileSync(join(suite, "tasks.jsonl"), `${lines.filter((l) => Number((JSON.parse(l) as { id: string }).id.split("-")[1]) <= 20).join("\n")}\n`);
    const profile = join(out, "temps.yaml");
    writeFileSync(profile, "name: temps\nsampling:\n  temperature: [0, 1.0]\nsamples: 5\nparallel: 4\n");
    const r = heldout(["run", "--suite", suite, "--allow-unfrozen", "--model", "models/arith-step600.yaml", "--profile", profile, "--out", out, "--run-id", "temps", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    const [greedy, hot] = s.cells;
    expect(greedy?.n).toBe(500);
    expect(greedy?.passRateInterval?.method).toBe("bootstrap");
    expect(hot?.consistency).toMatchObject({ k: 5 });
    expect(hot?.consistency?.passAtK).toBeGreaterThanOrEqual(hot?.consistency?.pass1 as number);
    expect(hot?.consistency?.passHatK).toBeLessThanOrEqual(hot?.consistency?.pass1 as number);
    // Greedy decoding is the same in every sample: no task is unstable.
    expect(greedy?.consistency?.unstable).toBe(0);
    expect(s.comparisons[0]?.verdict).toMatch(/(is better by|no detectable difference).*95% CI \[.*\].*p [=<] /);
  });
});
