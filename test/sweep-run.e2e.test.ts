import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { ROOT, copySuite, heldout, readJsonl, tempDir } from "./helpers/cli.js";

/**
 * Sweeps through the real CLI: the plan, and surviving what long sweeps meet (kill -9 at any
 * moment, a crashing engine host, Ctrl-C).
 */

const dir = tempDir("heldout-sweep-");

/** A greedy sweep (so every run must give the same outputs): 2 models × 2 parallel × 2 topK = 8 cells × 40 tasks. */
const greedyProfile = join(dir, "greedy-sweep.yaml");
writeFileSync(greedyProfile, "name: greedy-sweep\nsampling:\n  temperature: 0\n  topK: [0, 40]\nparallel: [1, 3]\n");
const sweepArgs = (out: string, runId: string) => [
  "run",
  "--suite",
  "tasks/tinystories",
  "--model",
  "models/stories260k.yaml",
  "--model",
  "models/stories260k-chat.yaml",
  "--profile",
  greedyProfile,
  "--out",
  out,
  "--run-id",
  runId,
  "-q",
];
const keyOf = (r: RunRecord) => `${r.cellId}|${r.taskId}|${r.sample}`;

function outputsByKey(file: string): Map<string, string> {
  const records = readJsonl<RunRecord>(file);
  const map = new Map<string, string>();
  for (const r of records) {
    expect(map.has(keyOf(r)), `duplicate record ${keyOf(r)}`).toBe(false);
    map.set(keyOf(r), r.output);
  }
  return map;
}

/** Processes started by this test's runs (tagged through their environment) that are still alive. */
const TAG = `HELDOUT_TEST_TAG=${process.pid}-${Date.now()}`;
function taggedAlive(): number {
  let n = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(TAG)) n++;
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return n;
}

/**
 * Starts the CLI and resolves with its exit once it ends; sends `signal` after `killAfterMs`, or as
 * soon as `when` holds (polled every 20 ms), if it is still running.
 */
function runAndKill(args: string[], killAfterMs: number, signal: NodeJS.Signals = "SIGKILL", when?: () => boolean): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const [name, value] = TAG.split("=") as [string, string];
    const child = spawn(process.execPath, [join(ROOT, "bin/heldout.js"), ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", [name]: value } });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill(signal), killAfterMs);
    const poll = when
      ? setInterval(() => {
          if (when()) {
            clearInterval(poll);
            child.kill(signal);
          }
        }, 20)
      : undefined;
    child.on("close", (code, sig) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, signal: sig, stderr });
    });
  });
}

describe("heldout run --dry-run", () => {
  it("plans a 3 × 4 × 3 grid as 36 cells with the right generation count, loading nothing", () => {
    const profile = join(dir, "grid.yaml");
    writeFileSync(
      profile,
      [
        "name: grid",
        "sampling:",
        "  temperature: [0, 0.5, 1]",
        "  topP: [1, 0.9, 0.8, 0.7]",
        "prompts:",
        "  - name: plain",
        "  - name: fewshot1",
        "    fewShot: 1",
        "    answerSeparator: ' '",
        "  - name: told",
        "    system: Finish the story.",
        "samples: 2",
      ].join("\n"),
    );
    const out = tempDir();
    const r = heldout(["run", "--dry-run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--profile", profile, "--out", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^36 cells \(grid 36\); 1 model load\(s\)$/m);
    expect(r.stdout).toMatch(/^40 tasks \(suite tinystories/m);
    expect(r.stdout).toMatch(/^2,880 generations$/m); // 36 cells × 40 tasks × 2 samples
    expect(r.stdout.split("\n").filter((l) => l.startsWith("stories260k@"))).toHaveLength(36);
    expect(readdirSync(out)).toEqual([]);
  });

  it("applies exclude rules and a seeded random sample", () => {
    const profile = join(dir, "sampled.yaml");
    writeFileSync(profile, "name: s\nsampling:\n  temperature: [0, 0.5, 1]\n  topP: [1, 0.9, 0.8, 0.7]\nexclude:\n  - {temperature: 0, topP: 0.9}\nsample: 5\nseed: 3\n");
    const a = heldout(["run", "--dry-run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--profile", profile]);
    const b = heldout(["run", "--dry-run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--profile", profile]);
    expect(a.stdout).toMatch(/^5 cells \(grid 12, 1 excluded, random sample of 5 with seed 3\)/m);
    expect(a.stdout).toBe(b.stdout);
  });
});

describe("a sweep killed with SIGKILL at random moments resumes to exactly the uninterrupted result", () => {
  it("loses no record and doubles none over 5 kills", async () => {
    const reference = join(dir, "ref");
    const started = performance.now();
    expect(heldout(sweepArgs(reference, "ref")).code).toBe(0);
    const duration = performance.now() - started;
    const expected = outputsByKey(join(reference, "ref", "records.jsonl"));
    expect(expected.size).toBe(320);

    const out = join(dir, "killed");
    // Moments spread over the run (start-up, loading, generating, between cells), seeded for repeatability.
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const kills: number[] = [];
    for (let i = 0; i < 5; i++) {
      const at = Math.round(300 + random() * duration * 0.8);
      const r = await runAndKill(sweepArgs(out, "k"), at);
      kills.push(at);
      if (r.signal === "SIGKILL") {
        // Every record on disk is whole except perhaps the torn last line, and none is doubled.
        const file = join(out, "k", "records.jsonl");
        if (existsSync(file)) outputsByKey(file);
      }
    }
    const last = heldout(sweepArgs(out, "k"));
    expect(last.code, last.stderr).toBe(0);
    const got = outputsByKey(join(out, "k", "records.jsonl"));
    expect(got.size).toBe(expected.size);
    expect([...got.entries()].sort()).toEqual([...expected.entries()].sort());
    // The engine hosts of the killed runs did not outlive them (a host mid-load may take a moment).
    await new Promise((r) => setTimeout(r, 1000));
    expect(taggedAlive()).toBe(0);
    const summary = JSON.parse(heldout(["show", join(out, "k"), "--json"]).stdout) as Summary;
    expect(summary.cells.every((c) => c.status === "completed" && c.n === 40)).toBe(true);
  }, 300_000);
});

describe("an engine host that dies mid-cell", () => {
  it("costs only its own cells: the other model's results are complete, the dead cells are failed, exit 3", () => {
    const out = tempDir();
    const r = heldout(sweepArgs(out, "crash"), { HELDOUT_TEST_HOST_ABORT: "stories260k-chat:5" });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/stories260k-chat: engine host died \(signal SIGABRT\)/);
    const summary = JSON.parse(heldout(["show", join(out, "crash"), "--json"]).stdout) as Summary;
    const plain = summary.cells.filter((c) => c.modelId === "stories260k");
    const chat = summary.cells.filter((c) => c.modelId === "stories260k-chat");
    expect(plain.map((c) => [c.status, c.n, c.failures.errors])).toEqual(Array(4).fill(["completed", 40, 0]));
    expect(chat.every((c) => c.status === "failed" && /engine host died \(signal SIGABRT\)/.test(c.error ?? ""))).toBe(true);
    // What finished before the crash is kept; nothing is missing or doubled.
    const records = outputsByKey(join(out, "crash", "records.jsonl"));
    expect(records.size).toBe(320);
    const failed = readJsonl<RunRecord>(join(out, "crash", "records.jsonl")).filter((x) => x.error !== null);
    expect(failed.length).toBe(160 - 5);
    expect(failed.every((x) => x.modelId === "stories260k-chat")).toBe(true);
  });

  it("a resume runs the generations that failed again, and their new records supersede the failed ones", () => {
    const out = tempDir();
    expect(heldout(sweepArgs(out, "again"), { HELDOUT_TEST_HOST_ABORT: "stories260k-chat:5" }).code).toBe(3);
    const resumed = heldout(["run", "--resume", "again", "--out", out, "-q", "--json"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout) as Summary;
    expect(summary.cells.every((c) => c.status === "completed" && c.n === 40 && c.failures.errors === 0)).toBe(true);
    // The file keeps the history (155 failure lines, then their replacements); the latest line per key counts.
    const lines = readJsonl<RunRecord>(join(out, "again", "records.jsonl"));
    expect(lines.length).toBe(320 + 155);
    const latest = new Map(lines.map((x) => [keyOf(x), x]));
    expect(latest.size).toBe(320);
    expect([...latest.values()].every((x) => x.error === null)).toBe(true);
    // What had succeeded before the crash is unchanged (greedy), and was not generated again.
    const before = lines.slice(0, 320).filter((x) => x.error === null);
    expect(before.length).toBe(165);
    for (const x of before) expect(latest.get(keyOf(x))?.output).toBe(x.output);
  });

  it("with --retries 1 a restarted host finishes the unfinished cells", () => {
    const out = tempDir();
    const r = heldout([...sweepArgs(out, "retry"), "--retries", "1"], { HELDOUT_TEST_HOST_ABORT: "stories260k-chat:5" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/restarting it for its unfinished cells/);
    const records = readJsonl<RunRecord>(join(out, "retry", "records.jsonl"));
    expect(records).toHaveLength(320);
    expect(records.every((x) => x.error === null)).toBe(true);
  });
});

describe("Ctrl-C", () => {
  it("stops cleanly with exit 130, keeps what finished, and says how to resume", async () => {
    const out = tempDir();
    // Interrupt once some records are on disk (a fixed delay is flaky on a loaded 2-core machine).
    const file = join(out, "int", "records.jsonl");
    const r = await runAndKill(sweepArgs(out, "int"), 120_000, "SIGINT", () => existsSync(file) && readFileSync(file, "utf8").split("\n").length > 20);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`resume with: heldout run --resume int --out ${out}`);
    const partial = outputsByKey(join(out, "int", "records.jsonl"));
    expect(partial.size).toBeLessThan(320);
    const resumed = heldout(["run", "--resume", "int", "--out", out, "-q"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(outputsByKey(join(out, "int", "records.jsonl")).size).toBe(320);
  });
});

describe("a full disk", () => {
  // A real ENOSPC: a 100 KiB tmpfs as the results folder (needs root, as CI and dev machines here have).
  const tiny = tempDir("heldout-tiny-");
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=100k", "tmpfs", tiny]).status === 0;

  it.skipIf(!mounted)("stops the run, keeps every record written, says how to resume, and the resume completes", () => {
    try {
      const r = heldout(sweepArgs(tiny, "full"));
      expect(r.code).toBe(74);
      expect(r.stderr).toMatch(/could not write a record \(ENOSPC[^)]*\); the run stopped, and every record written before is kept\. Free space, then resume with: heldout run --resume full --out /);
      const moved = tempDir();
      cpSync(join(tiny, "full"), join(moved, "full"), { recursive: true });
      const resumed = heldout(["run", "--resume", "full", "--out", moved, "-q"]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(outputsByKey(join(moved, "full", "records.jsonl")).size).toBe(320);
    } finally {
      spawnSync("umount", [tiny]);
    }
  });
});

describe("resume refuses a changed plan", () => {
  it("names the suite change when the suite's content differs", () => {
    const suite = copySuite("tinystories");
    const out = tempDir();
    const args = ["run", "--suite", suite, "--allow-unfrozen", "--model", "models/stories260k.yaml", "--out", out, "--run-id", "s", "-q"];
    expect(heldout(args).code).toBe(0);
    writeFileSync(join(suite, "tasks.jsonl"), readFileSync(join(suite, "tasks.jsonl"), "utf8").replace('"Lily"', '"Lucy"'));
    const r = heldout(["run", "--resume", "s", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/run "s" cannot be resumed: the suite's content changed/);
  });
});
