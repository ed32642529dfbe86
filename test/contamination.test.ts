import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  areaShares,
  commonPrefixLength,
  LIKELIHOOD_MARGIN,
  ngramOverlap,
  perturbations,
  probeText,
  reproduction,
  shiftDigits,
  splitPoint,
  swapClauses,
  swapSynonyms,
  SYNONYMS,
  verdict,
  type ContaminationReport,
  type PerturbationScore,
  type TaskProbe,
} from "../src/check/contamination.js";
import type { Suite, Task } from "../src/core/types.js";
import { heldout, ROOT, tempDir } from "./helpers/cli.js";

/**
 * `heldout contamination`: the pure measures, perturbations and verdict, then real node-llama-cpp
 * on arith-step6000 (trained on ~80% of all the arith problems: a positive control) and on a
 * synthetic suite of random strings it never saw (a negative control).
 */

describe("contamination: pure parts", () => {
  it("probes the rendered prompt followed by a string expected answer", () => {
    const suite = { name: "s", promptTemplate: "Q: {{q}} A:", tasks: [] } as unknown as Suite;
    const task = (expected: Task["expected"]): Task => ({ id: "t", vars: { q: "2+2" }, expected, line: 1 });
    expect(probeText(suite, task("4"))).toEqual({ prompt: "Q: 2+2 A:", answer: "4", text: "Q: 2+2 A:4" });
    expect(probeText(suite, task(4)).text).toBe("Q: 2+2 A:");
    expect(probeText(suite, task(["a"])).text).toBe("Q: 2+2 A:");
  });

  it("splits at the first half, at least the minimum, leaving something to reproduce", () => {
    expect(splitPoint(10)).toBe(5);
    expect(splitPoint(9)).toBe(5);
    expect(splitPoint(6)).toBe(4);
    expect(splitPoint(4)).toBeNull();
    expect(splitPoint(3)).toBeNull();
    expect(splitPoint(40)).toBe(20);
  });

  it("measures the common prefix and the n-gram overlap", () => {
    expect(commonPrefixLength([1, 2, 3, 4], [1, 2, 9])).toBe(2);
    expect(commonPrefixLength("abcd", "abxd")).toBe(2);
    expect(ngramOverlap([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])).toBe(1);
    expect(ngramOverlap([1, 2, 3, 4, 5], [9, 2, 3, 4, 9])).toBeCloseTo(1 / 3);
    expect(ngramOverlap([1, 2, 3, 4, 5], [])).toBe(0);
    // multiset: a repeated n-gram in the reference needs two copies in the candidate
    expect(ngramOverlap([1, 1, 1, 1], [1, 1, 1])).toBe(0.5);
    // references shorter than n use their whole length
    expect(ngramOverlap([7, 8], [0, 7, 8])).toBe(1);
    const r = reproduction([5, 6, 7, 8], [5, 6, 0, 0], "5678", "5600");
    expect(r).toMatchObject({ restTokens: 4, continuationTokens: 4, lcpTokens: 2, lcpChars: 2, lcpShare: 0.5, ngramShare: 0 });
  });

  it("changes numbers by a fixed rule: each digit d becomes (d + 3) mod 10", () => {
    expect(shiftDigits("27+34=61")).toBe("50+67=94");
    expect(shiftDigits("0123456789")).toBe("3456789012");
    expect(shiftDigits("no digits")).toBe("no digits");
  });

  it("swaps the first two clauses at commas or 'and'", () => {
    expect(swapClauses("14,73>73")).toBe("73>73,14");
    expect(swapClauses("the cat sat, the dog ran, the end")).toBe("the dog ran, the cat sat, the end");
    expect(swapClauses("Tom ran and Sue sat")).toBe("Sue sat and Tom ran");
    expect(swapClauses("one clause only")).toBe("one clause only");
    expect(swapClauses(", leading")).toBe(", leading");
  });

  it("swaps synonyms from the built-in list, whole words, keeping a leading capital", () => {
    expect(SYNONYMS.length).toBeGreaterThanOrEqual(30);
    expect(swapSynonyms("The big house was quick")).toBe("The large home was fast");
    expect(swapSynonyms("Big bigger")).toBe("Large bigger");
    expect(swapSynonyms("BIG")).toBe("BIG");
  });

  it("keeps only perturbations that change the text, deterministically", () => {
    expect(perturbations("27+34=61")).toEqual([{ kind: "numbers", text: "50+67=94" }]);
    expect(perturbations("abc")).toEqual([]);
    const text = "The big dog ran, and 3 cats sat";
    const a = perturbations(text);
    expect(a).toEqual(perturbations(text));
    expect(a.map((p) => p.kind)).toEqual(["numbers", "clauses", "synonyms"]);
    for (const p of a) expect(p.text).not.toBe(text);
  });

  it("flags on reproduction or on a likelihood gap beyond the margin over every perturbation", () => {
    const p = (mean: number): PerturbationScore => ({ kind: "numbers", text: "x", tokens: 5, meanLogLikelihood: mean });
    const none = reproduction([1, 2, 3, 4], [9, 9, 9, 9], "", "");
    const half = reproduction([1, 2, 3, 4], [1, 2, 9, 9], "", "");
    expect(verdict(none, -2, [p(-2 - LIKELIHOOD_MARGIN - 0.01)])).toMatchObject({ flagged: true, likelihoodFlag: true, reproduced: false });
    expect(verdict(none, -2, [p(-2 - LIKELIHOOD_MARGIN - 0.01), p(-2.5)])).toMatchObject({ flagged: false, likelihoodFlag: false });
    expect(verdict(none, -2, [])).toMatchObject({ flagged: false, likelihoodGap: null });
    expect(verdict(half, -2, [])).toMatchObject({ flagged: true, reproduced: true });
    expect(verdict(null, -2, [])).toMatchObject({ flagged: false });
  });

  it("summarises the share flagged per area", () => {
    const probe = (area: string, flagged: boolean): TaskProbe => ({
      taskId: area, area, text: "", tokens: 0, prefixTokens: null, continuation: "", reproduction: null, exactMeanLogLikelihood: 0,
      perturbations: [], likelihoodGap: null, reproduced: false, likelihoodFlag: flagged, flagged, evidence: "", truncatedTokens: 0,
    });
    const { areas, overall } = areaShares([probe("b", true), probe("a", false), probe("b", false), probe("a", true), probe("a", true)]);
    expect(areas.map((a) => [a.area, a.tasks, a.flagged])).toEqual([["a", 3, 2], ["b", 2, 1]]);
    expect(overall.share).toBeCloseTo(3 / 5);
  });
});

// ---------------------------------------------------------------------------------------------
// Real node-llama-cpp

const MODEL = join(ROOT, "models/arith-step6000.yaml");

function probe(suiteDir: string, limit: number): ContaminationReport {
  const r = heldout(["contamination", "--model", MODEL, "--suite", suiteDir, "--limit", String(limit), "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ContaminationReport;
}

/** A suite of random strings (seeded), with digits and commas so that perturbations apply. */
function randomSuite(): string {
  const dir = join(tempDir("heldout-contamination-"), "random");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "suite.yaml"), 'name: random\nprompt: "{{text}}"\nscorer: exact\nchatTemplate: never\n');
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const word = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(next() * alphabet.length)]).join("");
  const lines = Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({ id: `r${String(i).padStart(2, "0")}`, area: i % 2 ? "odd" : "even", vars: { text: `${word(5)},${word(5)} ${word(4)}` }, expected: word(4) }),
  );
  writeFileSync(join(dir, "tasks.jsonl"), `${lines.join("\n")}\n`);
  return dir;
}

describe("contamination: arith-step6000 (real node-llama-cpp)", () => {
  it("flags seen arithmetic (positive control) and not random strings (negative control)", () => {
    const started = performance.now();
    // tasks/arith in its own order: the first 40 are add problems.
    const arith = probe(join(ROOT, "tasks/arith"), 40);
    expect(arith.overall.tasks).toBe(40);
    // a mixed copy: 8 problems of each area
    const mixedDir = join(tempDir("heldout-contamination-"), "arith-mixed");
    mkdirSync(mixedDir, { recursive: true });
    writeFileSync(join(mixedDir, "suite.yaml"), readFileSync(join(ROOT, "tasks/arith/suite.yaml")));
    const byArea = new Map<string, string[]>();
    for (const line of readFileSync(join(ROOT, "tasks/arith/tasks.jsonl"), "utf8").split("\n").filter(Boolean)) {
      const area = (JSON.parse(line) as { area: string }).area;
      const list = byArea.get(area) ?? [];
      if (list.length < 8) list.push(line);
      byArea.set(area, list);
    }
    writeFileSync(join(mixedDir, "tasks.jsonl"), `${[...byArea.values()].flat().join("\n")}\n`);
    const mixed = probe(mixedDir, 40);
    const random = probe(randomSuite(), 40);
    const summary = (r: ContaminationReport) => r.areas.map((a) => `${a.area} ${a.flagged}/${a.tasks}`).join(", ");
    process.stderr.write(
      `contamination: tasks/arith first 40: ${arith.overall.flagged}/40 (${summary(arith)}); mixed: ${mixed.overall.flagged}/40 (${summary(mixed)}); random: ${random.overall.flagged}/40\n` +
        `  mean gap arith ${mean(arith.tasks.map((t) => t.likelihoodGap ?? 0)).toFixed(2)}, random ${mean(random.tasks.map((t) => t.likelihoodGap ?? 0)).toFixed(2)}; ` +
        `reproduced arith ${arith.overall.reproduced}, mixed ${mixed.overall.reproduced}, random ${random.overall.reproduced}; ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
    expect(arith.overall.share).toBeGreaterThanOrEqual(0.8);
    expect(random.overall.share).toBeLessThanOrEqual(0.05);
    for (const t of arith.tasks.filter((x) => x.flagged)) expect(t.evidence).toMatch(/log-likelihood/);
  });
});

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length;
}
