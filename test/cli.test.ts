import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { copySuite, heldout, readJsonl, tempDir } from "./helpers/cli.js";

/** The command line as a user meets it: help, exit codes, messages that point at the bad input. */

describe("heldout --help and --version", () => {
  it("lists every command with a one-line description and examples", () => {
    const r = heldout(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+run \[options\]\s+\S.+$/m);
    expect(r.stdout).toMatch(/^\s+freeze (\[options\] )?<dir>\s+\S.+$/m);
    expect(r.stdout).toMatch(/^\s+show \[options\] <run>\s+\S.+$/m);
    expect(r.stdout).toMatch(/Examples:[\s\S]*heldout run --suite tasks\/tinystories --model models\/stories260k\.yaml/);
  });

  it("prints the package version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    expect(heldout(["--version"]).stdout.trim()).toBe(pkg.version);
  });
});

describe("bad input stops the run before any model loads, naming file, line and field", () => {
  it("reports every problem in a broken tasks.jsonl at once, exit 2, and writes no results", () => {
    const suite = copySuite("tinystories");
    const lines = readFileSync(join(suite, "tasks.jsonl"), "utf8").trim().split("\n");
    lines[2] = lines[0] as string; // duplicate id on line 3
    lines[4] = "{not json"; // line 5
    writeFileSync(join(suite, "tasks.jsonl"), `${lines.join("\n")}\n`);
    const out = tempDir();
    const r = heldout(["run", "--suite", suite, "--allow-unfrozen", "--model", "models/stories260k.yaml", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/tasks\.jsonl:3: field "id": duplicate id "names-01" \(first used on line 1\)/);
    expect(r.stderr).toMatch(/tasks\.jsonl:5: not valid JSON/);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(readdirSync(out)).toEqual([]);
  });

  it("refuses a suite edited since it was frozen, saying which tasks changed", () => {
    const suite = copySuite("tinystories");
    const text = readFileSync(join(suite, "tasks.jsonl"), "utf8").replace('"expected": "Lily"', '"expected": "Lucy"');
    writeFileSync(join(suite, "tasks.jsonl"), text);
    const out = tempDir();
    const r = heldout(["run", "--suite", suite, "--model", "models/stories260k.yaml", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to run suite "tinystories".*1 edited \(names-01\)/);
    expect(r.stderr).toMatch(/--allow-unfrozen/);

    const allowed = heldout(["run", "--suite", suite, "--allow-unfrozen", "--model", "models/stories260k.yaml", "--out", out, "--run-id", "u", "-q"]);
    expect(allowed.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, "u", "manifest.json"), "utf8"));
    expect(manifest.suite.frozen).toBe(false);
    expect(manifest.suite.unfrozenReason).toMatch(/names-01/);

    const frozen = heldout(["freeze", suite]);
    expect(frozen.code).toBe(0);
    expect(frozen.stdout).toMatch(/froze tinystories: 40 tasks, sha256 [0-9a-f]{64}/);
    expect(heldout(["run", "--suite", suite, "--model", "models/stories260k.yaml", "--out", out, "-q"]).code).toBe(0);
  });

  it("names the manifest and field when no model source exists", () => {
    const dir = tempDir();
    const manifest = join(dir, "missing.yaml");
    writeFileSync(manifest, "id: missing\nbackend: llama\nsources:\n  - ./nope.gguf\n");
    const r = heldout(["run", "--suite", "tasks/tinystories", "--model", manifest, "--out", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing\.yaml: field "sources": model "missing": no source could be loaded:\s+heldout: error:\s+\.\/nope\.gguf: no such file/);
  });

  it("names the profile line and field of a bad sampling value", () => {
    const dir = tempDir();
    const profile = join(dir, "p.yaml");
    writeFileSync(profile, "name: p\nsampling:\n  temperature: hot\n");
    const r = heldout(["run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--profile", profile, "--out", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/p\.yaml:3: field "sampling\.temperature": must be a number, got "hot"/);
  });
});

describe("failures cost a model's cells, never the run", () => {
  it("records a model that cannot load as failed, still runs the others, and exits 3", () => {
    const dir = tempDir();
    const broken = join(dir, "broken.gguf");
    writeFileSync(broken, Buffer.from("GGUF this is not a model"));
    const r = heldout(["run", "--suite", "tasks/tinystories", "--model", broken, "--model", "models/stories260k.yaml", "--out", dir, "--run-id", "f", "--json", "-q"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/1 cell\(s\) failed/);
    const summary = JSON.parse(r.stdout) as Summary;
    const [bad, good] = summary.cells;
    expect(bad?.status).toBe("failed");
    expect(bad?.error).toBeTruthy();
    expect(bad?.failures).toMatchObject({ errors: 40, total: 40, rate: 1 });
    expect(bad?.passRate).toBe(0);
    expect(good?.status).toBe("completed");
    expect(good?.n).toBe(40);
  });
});

describe("a killed run resumes without duplicating or losing a record", () => {
  it("keeps finished records, drops a half-written line and runs only the rest", () => {
    const out = tempDir();
    const args = ["run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--out", out, "--run-id", "r", "--json", "-q"];
    const full = heldout(args);
    expect(full.code).toBe(0);
    const file = join(out, "r", "records.jsonl");
    const original = readJsonl<RunRecord>(file);
    // As if killed mid-write after 10 records: 10 whole lines and half of the 11th.
    const lines = readFileSync(file, "utf8").split("\n");
    writeFileSync(file, `${lines.slice(0, 10).join("\n")}\n${(lines[10] as string).slice(0, 30)}`);
    const resumed = heldout(args);
    expect(resumed.code).toBe(0);
    const records = readJsonl<RunRecord>(file);
    expect(records).toHaveLength(40);
    expect(new Set(records.map((x) => x.taskId)).size).toBe(40);
    expect(records.slice(0, 10)).toEqual(original.slice(0, 10));
    const byTask = new Map(original.map((x) => [x.taskId, x.output]));
    for (const x of records) expect(x.output).toBe(byTask.get(x.taskId));
    expect((JSON.parse(resumed.stdout) as Summary).cells[0]?.passRate).toBe((JSON.parse(full.stdout) as Summary).cells[0]?.passRate);
  });

  it("refuses to reuse a run id for a different plan", () => {
    const out = tempDir();
    expect(heldout(["run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--out", out, "--run-id", "x", "-q"]).code).toBe(0);
    const r = heldout(["run", "--suite", "tasks/tinystories", "--model", "models/stories260k-chat.yaml", "--out", out, "--run-id", "x", "-q"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/run "x" cannot be resumed: it was started with different models or settings/);
  });
});

describe("chat templates", () => {
  it("applies the model's own template when the suite says auto, and records the tokens it fed", () => {
    const suite = copySuite("tinystories");
    const yaml = readFileSync(join(suite, "suite.yaml"), "utf8").replace("chatTemplate: never", "chatTemplate: auto");
    writeFileSync(join(suite, "suite.yaml"), yaml);
    const out = tempDir();
    const r = heldout(["run", "--suite", suite, "--allow-unfrozen", "--model", "models/stories260k-chat.yaml", "--model", "models/stories260k.yaml", "--out", out, "--run-id", "c", "-q"]);
    expect(r.code).toBe(0);
    const records = readJsonl<RunRecord>(join(out, "c", "records.jsonl"));
    const chat = records.find((x) => x.modelId === "stories260k-chat") as RunRecord;
    const plain = records.find((x) => x.modelId === "stories260k" && x.taskId === chat.taskId) as RunRecord;
    // BOS + " User: " ... "\nAssistant: ", one BOS (the template's own), as in ../shared/models/README.md.
    expect(chat.promptTokenIds.slice(0, 4)).toEqual([1, 410, 471, 419]);
    expect(chat.promptTokenIds.filter((t) => t === 1)).toHaveLength(1);
    expect(chat.prompt).toMatch(/User: .*\nAssistant: $/s);
    // The plain model has no template: the suite's prompt as is.
    expect(plain.promptTokenIds[0]).toBe(1);
    expect(plain.promptTokenIds[1]).not.toBe(471);
    expect(existsSync(join(out, "c", "summary.json"))).toBe(true);
  });
});
