import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCsv } from "../src/import/csv.js";
import { exactDuplicates, jaccard, nearDuplicates, normaliseText, shingles, shingleSimilarity } from "../src/import/dedupe.js";
import { getPath, parseLog, parseMap, type ParseOptions } from "../src/import/parse.js";
import { allocate, stratifiedSample } from "../src/import/sample.js";
import { luhnValid, Scrubber, SCRUB_KINDS, type ScrubKind } from "../src/import/scrub.js";
import { checkFrozen, loadSuite, readLock } from "../src/store/suite-files.js";
import { createRng, randomInt } from "../src/stats/random.js";
import { heldout, readJsonl, tempDir } from "./helpers/cli.js";

/**
 * `heldout import`: logs (JSONL, CSV, OpenAI chat logs, Ollama request dumps) into frozen suites.
 * The acceptance fixture is a 1,000-line JSONL log with planted exact and near duplicates, 20
 * planted secrets of five kinds and four areas; it must become a frozen 240-task suite with every
 * step counted, every secret replaced, areas balanced and the same seed giving the same hash.
 */

// ─── the acceptance fixture ────────────────────────────────────────────────────────────────────

const AREAS = ["billing", "shipping", "account", "technical"];

/** 20 secrets, four of each kind, each distinct. */
const SECRETS: Record<ScrubKind, string[]> = {
  EMAIL: ["jane.doe@example.com", "ops-team+alerts@corp.example.org", "j.smith@mail.co.uk", "billing@acme.io"],
  PHONE: ["+1 415-555-0132", "(212) 555-0198", "+44 20 7946 0958", "555-867-5309"],
  IP: ["192.168.10.24", "10.0.0.7", "2001:db8:85a3::8a2e:370:7334", "172.16.254.1"],
  KEY: ["sk-proj-Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9", "ghp_1234567890abcdefghijABCDEFGHIJ123456", "AKIAIOSFODNN7EXAMPLE", "Bearer 7f3a9c2e1b4d6f8a0c2e4b6d8f1a3c5e"],
  NUMBER: ["4111 1111 1111 1111", "123456789012", "DE89 3704 0044 0532 0130 00", "9876543210123"],
};
/** The part of each secret that must not survive (a Bearer token's "Bearer " stays). */
const secretValue = (s: string) => s.replace(/^Bearer /, "");

/** Text that looks a little like the kinds above and must stay as it is. */
const LOOKALIKES = ["version 1.2.3.4", "on 2024-05-01 at 12:30:45", "order 12345678", "agent Chrome/120.0.0.0", "std::vector", "build v2.10.3.1", "years 2019 2020 2021 2022"];

interface Fixture {
  lines: string[];
  exact: number;
  near: number;
  base: number;
}

function makeFixture(): Fixture {
  const rng = createRng(20240607);
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const vocab = Array.from({ length: 800 }, () => Array.from({ length: 4 + randomInt(rng, 6) }, () => letters[randomInt(rng, 26)]).join(""));
  const sentence = (n: number) => Array.from({ length: n }, () => vocab[randomInt(rng, vocab.length)]).join(" ");
  type Line = { request: { prompt: string }; response: { text: string }; meta: { team: string } };
  const BASE = 850;
  const base: Line[] = Array.from({ length: BASE }, (_, i) => ({ request: { prompt: `${sentence(24)}?` }, response: { text: sentence(2) }, meta: { team: AREAS[i % 4] as string } }));
  // Secrets in items 0..19 (one EMAIL in an expected answer), look-alikes in 20..26.
  let s = 0;
  for (const kind of SCRUB_KINDS)
    for (const secret of SECRETS[kind]) {
      const item = base[s] as Line;
      if (kind === "EMAIL" && secret === SECRETS.EMAIL[1]) item.response.text = `write to ${secret} today`;
      else item.request.prompt = `${item.request.prompt.slice(0, 60)} contact ${secret} about ${item.request.prompt.slice(60)}`;
      s++;
    }
  LOOKALIKES.forEach((text, i) => {
    const item = base[20 + i] as Line;
    item.request.prompt = `${item.request.prompt} ${text}`;
  });
  // Originals of duplicates: distinct items past the planted ones.
  const originals = Array.from({ length: BASE - 30 }, (_, i) => i + 30);
  for (let i = originals.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    [originals[i], originals[j]] = [originals[j] as number, originals[i] as number];
  }
  const dups: { of: number; line: Line }[] = [];
  for (const o of originals.slice(0, 100)) {
    const b = base[o] as Line;
    // The same input after NFKC, case folding and whitespace collapsing.
    const variant = `  ${b.request.prompt.toUpperCase().replace(/ /g, "   ")}\t`;
    dups.push({ of: o, line: { ...b, request: { prompt: variant } } });
  }
  for (const o of originals.slice(100, 150)) {
    const b = base[o] as Line;
    // A few characters more: about 7 of ~175 shingles are new (Jaccard ≈ 0.96).
    dups.push({ of: o, line: { ...b, request: { prompt: `${b.request.prompt} please` } } });
  }
  // Each duplicate goes somewhere after its original.
  const lines: Line[] = [...base];
  for (const d of dups) {
    const at = lines.indexOf(base[d.of] as Line);
    lines.splice(at + 1 + randomInt(rng, lines.length - at), 0, d.line);
  }
  return { lines: lines.map((l) => JSON.stringify(l)), exact: 100, near: 50, base: BASE };
}

const MAP = "input=request.prompt,expected=response.text,area=meta.team";

/** The parts of provenance.json the tests read. */
interface Provenance {
  source: { sha256: string; map: Record<string, string | null> };
  counts: Record<string, unknown> & { scrubbed: { replaced: Record<string, number> }; areasAfter: Record<string, number> };
  duplicates: { exact: unknown[]; near: { line: number; keptLine: number; similarity: number }[] };
  steps: { sample: unknown };
  suite: { hash: string };
  lock: { hash: string };
}

function allText(dir: string): string {
  return readdirSync(dir)
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
}

describe("heldout import: the acceptance fixture", () => {
  let work: string;
  let log: string;
  let fixture: Fixture;
  beforeAll(() => {
    work = tempDir("heldout-import-");
    fixture = makeFixture();
    log = join(work, "traffic.jsonl");
    writeFileSync(log, `${fixture.lines.join("\n")}\n`);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("the fixture is what it claims: 1,000 lines, planted near duplicates at Jaccard ≥ 0.9", () => {
    expect(fixture.lines).toHaveLength(1000);
    const prompts = fixture.lines.map((l) => (JSON.parse(l) as { request: { prompt: string } }).request.prompt);
    const near = prompts.filter((p) => p.endsWith("? please"));
    expect(near).toHaveLength(50);
    for (const p of near) {
      const original = p.slice(0, -" please".length);
      expect(prompts.indexOf(original)).toBeLessThan(prompts.indexOf(p));
      expect(shingleSimilarity(p, original)).toBeGreaterThanOrEqual(0.9);
    }
    expect(prompts.filter((p) => p.startsWith("  "))).toHaveLength(100);
  });

  it("imports into a frozen 240-task suite: duplicates removed, secrets scrubbed and counted, areas balanced", () => {
    const out = join(work, "a", "traffic");
    const r = heldout(["import", log, "--map", MAP, "--out", out, "--sample", "240", "--seed", "7"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const stdout = r.stdout;
    expect(stdout).toMatch(/read\s+1,000 records \(jsonl\), 0 malformed/);
    expect(stdout).toMatch(/empty input\s+0 dropped/);
    expect(stdout).toMatch(/exact duplicates\s+100 removed/);
    expect(stdout).toMatch(/near duplicates\s+50 removed \(5-character shingles, Jaccard ≥ 0\.9\)/);
    expect(stdout).toMatch(/scrubbed\s+20 values in 20 items: EMAIL 4 \(4 distinct\), PHONE 4 \(4 distinct\), IP 4 \(4 distinct\), KEY 4 \(4 distinct\), NUMBER 4 \(4 distinct\)/);
    expect(stdout).toMatch(/areas\s+account 212, billing 213, shipping 213, technical 212 \(4 areas\)/);
    expect(stdout).toMatch(/sampled\s+240 of 850 \(seed 7\): account 60, billing 60, shipping 60, technical 60/);
    expect(stdout).toMatch(/wrote .*traffic: 240 tasks, sha256 [0-9a-f]{64}; frozen/);

    // The suite loads, is frozen, and the lock is the one `heldout freeze` writes.
    const suite = loadSuite(out);
    expect(suite.tasks).toHaveLength(240);
    expect(checkFrozen(suite).state).toBe("frozen");
    const lock = readLock(out);
    expect(lock?.hash).toBe(suite.hash);
    expect(stdout).toContain(suite.hash);
    const perArea = new Map<string, number>();
    for (const t of suite.tasks) perArea.set(t.area ?? "", (perArea.get(t.area ?? "") ?? 0) + 1);
    expect([...perArea.values()]).toEqual([60, 60, 60, 60]);
    expect(new Set(suite.tasks.map((t) => t.area))).toEqual(new Set(AREAS));
    expect(suite.tasks.every((t) => typeof t.expected === "string")).toBe(true);
    expect(suite.promptTemplate).toBe("{{input}}");

    // No planted secret is in any file written.
    const text = allText(out);
    for (const kind of SCRUB_KINDS) for (const s of SECRETS[kind]) expect(text).not.toContain(secretValue(s));

    // Provenance: the source's sha256 and every step's count.
    const prov = JSON.parse(readFileSync(join(out, "provenance.json"), "utf8")) as Provenance;
    expect(prov.source.sha256).toBe(createHash("sha256").update(readFileSync(log)).digest("hex"));
    expect(prov.source.map).toEqual({ input: "request.prompt", expected: "response.text", area: "meta.team" });
    expect(prov.counts).toMatchObject({ records: 1000, malformed: 0, emptyInput: 0, exactDuplicates: 100, nearDuplicates: 50, afterDedupe: 850, tasks: 240 });
    expect(prov.counts.scrubbed.replaced).toEqual({ EMAIL: 4, PHONE: 4, IP: 4, KEY: 4, NUMBER: 4 });
    expect(prov.counts.areasAfter).toEqual({ account: 60, billing: 60, shipping: 60, technical: 60 });
    expect(prov.duplicates.exact).toHaveLength(100);
    expect(prov.duplicates.near).toHaveLength(50);
    for (const d of prov.duplicates.near) {
      expect(d.keptLine).toBeLessThan(d.line);
      expect(d.similarity).toBeGreaterThanOrEqual(0.9);
    }
    expect(prov.steps.sample).toMatchObject({ size: 240, seed: 7 });
    expect(prov.suite.hash).toBe(suite.hash);
    expect(prov.lock.hash).toBe(suite.hash);
  });

  it("without sampling, every planted secret becomes its own placeholder and the look-alikes stay", () => {
    const out = join(work, "all", "traffic");
    const r = heldout(["import", log, "--map", MAP, "--out", out]);
    expect(r.code).toBe(0);
    const tasks = readFileSync(join(out, "tasks.jsonl"), "utf8");
    for (const kind of SCRUB_KINDS) {
      for (const s of SECRETS[kind]) expect(tasks).not.toContain(secretValue(s));
      for (let n = 1; n <= 4; n++) expect(tasks).toContain(`<${kind}_${n}>`);
      expect(tasks).not.toContain(`<${kind}_5>`);
    }
    expect(tasks).toContain("Bearer <KEY_");
    for (const l of LOOKALIKES) expect(tasks).toContain(l);
    expect(r.stdout).toMatch(/scrubbed in suite\s+EMAIL 4, PHONE 4, IP 4, KEY 4, NUMBER 4/);
    expect(loadSuite(out).tasks).toHaveLength(850);
  });

  it("the same seed gives the same suite hash; another seed another", () => {
    const hashOf = (out: string) => readLock(out)?.hash;
    const again = join(work, "b", "traffic");
    expect(heldout(["import", log, "--map", MAP, "--out", again, "--sample", "240", "--seed", "7"]).code).toBe(0);
    expect(hashOf(again)).toBe(hashOf(join(work, "a", "traffic")));
    expect(readFileSync(join(again, "tasks.jsonl"), "utf8")).toBe(readFileSync(join(work, "a", "traffic", "tasks.jsonl"), "utf8"));
    const other = join(work, "c", "traffic");
    expect(heldout(["import", log, "--map", MAP, "--out", other, "--sample", "240", "--seed", "8"]).code).toBe(0);
    expect(hashOf(other)).not.toBe(hashOf(again));
  });

  it("a malformed line is reported by its number and nothing is written", () => {
    const broken = [...fixture.lines];
    broken[499] = '{"request": {"prompt": "half a line"';
    const bad = join(work, "broken.jsonl");
    writeFileSync(bad, `${broken.join("\n")}\n`);
    const out = join(work, "d", "traffic");
    const r = heldout(["import", bad, "--map", MAP, "--out", out, "--sample", "240", "--seed", "7"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:500: malformed line: not valid JSON`);
    expect(r.stderr).toMatch(/1 malformed record\(s\); nothing was written/);
    expect(r.stdout).toBe("");
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(work, "d")) ? readdirSync(join(work, "d")) : []).toEqual([]);
  });

  it("refuses to replace a suite unless --force; --dry-run writes nothing", () => {
    const out = join(work, "a", "traffic");
    const before = readFileSync(join(out, "suite.lock.json"), "utf8");
    const refused = heldout(["import", log, "--map", MAP, "--out", out, "--sample", "240", "--seed", "9"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("already exists; --force replaces it");
    expect(readFileSync(join(out, "suite.lock.json"), "utf8")).toBe(before);

    const dry = join(work, "e", "traffic");
    const d = heldout(["import", log, "--map", MAP, "--out", dry, "--sample", "240", "--seed", "7", "--dry-run"]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/dry run: nothing written \(the suite would have 240 tasks, sha256 [0-9a-f]{64}\)/);
    expect(d.stdout).toContain(readLock(out)?.hash ?? "no lock");
    expect(existsSync(join(work, "e"))).toBe(false);

    const forced = heldout(["import", log, "--map", MAP, "--out", out, "--sample", "100", "--seed", "9", "--force"]);
    expect(forced.code).toBe(0);
    expect(loadSuite(out).tasks).toHaveLength(100);
    expect(readdirSync(join(work, "a"))).toEqual(["traffic"]);
  });

  it("--no-scrub keeps the values and says so", () => {
    const out = join(work, "f", "raw");
    const r = heldout(["import", log, "--map", MAP, "--out", out, "--no-scrub"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/scrubbed\s+off \(--no-scrub\)/);
    expect(readFileSync(join(out, "tasks.jsonl"), "utf8")).toContain("jane.doe@example.com");
    const some = heldout(["import", log, "--map", MAP, "--out", join(work, "f", "some"), "--scrub", "email,key"]);
    expect(some.stdout).toMatch(/scrubbed\s+8 values in 8 items: EMAIL 4 \(4 distinct\), KEY 4 \(4 distinct\); not scrubbed: PHONE, IP, NUMBER/);
  });
});

// ─── formats ───────────────────────────────────────────────────────────────────────────────────

describe("heldout import: formats", () => {
  let work: string;
  beforeAll(() => {
    work = tempDir("heldout-import-formats-");
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("csv: header row, RFC 4180 quotes and line breaks, dotted column names", () => {
    const file = join(work, "faq.csv");
    writeFileSync(
      file,
      [
        "question,answer,meta.topic",
        'What is 2+2?,4,math',
        '"Say ""hi"", please",hi,chat',
        '"A question\r\nover two lines",yes,chat',
        "What is 3+3?,6,math",
        "",
      ].join("\r\n"),
    );
    const out = join(work, "faq");
    const r = heldout(["import", file, "--map", "input=question,expected=answer,area=meta.topic", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/read\s+4 records \(csv\)/);
    const tasks = readJsonl<{ id: string; area: string; vars: { input: string }; expected: string }>(join(out, "tasks.jsonl"));
    expect(tasks.map((t) => [t.id, t.area, t.vars.input, t.expected])).toEqual([
      ["chat-3", "chat", 'Say "hi", please', "hi"],
      ["chat-4", "chat", "A question\r\nover two lines", "yes"],
      ["math-2", "math", "What is 2+2?", "4"],
      ["math-6", "math", "What is 3+3?", "6"],
    ]);
    expect(checkFrozen(loadSuite(out)).state).toBe("frozen");

    const bad = join(work, "bad.csv");
    writeFileSync(bad, 'question,answer\nok,1\n"unclosed,2\n');
    const b = heldout(["import", bad, "--out", join(work, "bad")]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`${bad}:3: malformed CSV: a quoted field opened on line 3 is never closed`);
    expect(existsSync(join(work, "bad"))).toBe(false);
  });

  it("openai-chat: request/response logs, the Batch API shape and bare message lists", () => {
    const file = join(work, "chat.jsonl");
    const lines = [
      { request: { model: "gpt-x", messages: [{ role: "user", content: "What is the capital of France?" }] }, response: { choices: [{ message: { role: "assistant", content: "Paris" } }] }, metadata: { feature: "geo" } },
      {
        request: { model: "gpt-x", messages: [{ role: "system", content: "Answer briefly." }, { role: "user", content: [{ type: "text", text: "Largest planet?" }, { type: "image_url", image_url: { url: "x" } }] }] },
        response: { choices: [{ message: { content: "Jupiter" } }] },
        metadata: { feature: "astro" },
      },
      { messages: [{ role: "user", content: "2+2?" }, { role: "assistant", content: "4" }], metadata: { feature: "math" } },
      { custom_id: "r1", body: { messages: [{ role: "user", content: "Spell cat backwards" }] }, response: { status_code: 200, body: { choices: [{ message: { content: "tac" } }] } }, metadata: { feature: "words" } },
      { messages: [{ role: "user", content: "No reply here" }], metadata: { feature: "words" } },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const out = join(work, "chat");
    const r = heldout(["import", file, "--format", "openai-chat", "--map", "area=metadata.feature", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no expected answer\s+1 dropped/);
    expect(r.stdout).toContain("1 message part(s) that are not text");
    expect(r.stdout).toContain("system messages left out of the comparison");
    const tasks = readJsonl<{ area: string; vars: { input: string }; expected: string }>(join(out, "tasks.jsonl"));
    expect(tasks.map((t) => [t.area, t.vars.input, t.expected])).toEqual([
      ["astro", "System: Answer briefly.\n\nUser: Largest planet?", "Jupiter"],
      ["geo", "What is the capital of France?", "Paris"],
      ["math", "2+2?", "4"],
      ["words", "Spell cat backwards", "tac"],
    ]);

    // --reply drop: no item keeps an answer, so with the default --unanswered drop nothing is left.
    const dropped = heldout(["import", file, "--format", "openai-chat", "--reply", "drop", "--out", join(work, "chat-drop")]);
    expect(dropped.code).toBe(2);
    expect(dropped.stderr).toContain("nothing to import: none of the 5 items has an expected answer");
    // Kept without answers, they need a scorer that grades without one; exact does not.
    const kept = heldout(["import", file, "--format", "openai-chat", "--reply", "drop", "--unanswered", "keep", "--out", join(work, "chat-keep")]);
    expect(kept.code).toBe(2);
    expect(kept.stderr).toContain("5 item(s) have no expected answer, and the exact scorer needs one");
    expect(existsSync(join(work, "chat-keep"))).toBe(false);
    const json = heldout(["import", file, "--format", "openai-chat", "--reply", "drop", "--unanswered", "keep", "--scorer", "json", "--out", join(work, "chat-json")]);
    expect(json.stderr).toBe("");
    expect(json.stdout).toMatch(/no expected answer\s+5 kept, with no expected answer \(the scorer grades without one\)/);
    const suite = loadSuite(join(work, "chat-json"));
    expect(suite.tasks.every((t) => t.expected === undefined)).toBe(true);
    expect(suite.description).toContain("5 task(s) have no expected answer: they need a judge scorer or a people rubric");

    // With a judge they are kept (the default then) and graded by it: the suite's scorer when no
    // task has an answer, else each unanswered task's own.
    const judged = heldout(["import", file, "--format", "openai-chat", "--reply", "drop", "--judge-model", "models/stories260k.yaml", "--rubric", "Correct and brief.", "--out", join(work, "chat-judge")]);
    expect(judged.stderr).toBe("");
    expect(judged.stdout).toMatch(/no expected answer\s+5 kept, graded by the judge models\/stories260k.yaml/);
    const all = loadSuite(join(work, "chat-judge"));
    expect(all.scorer).toEqual({ type: "judge", model: "models/stories260k.yaml", rubric: "Correct and brief." });
    expect(all.tasks.every((t) => t.scorer === undefined)).toBe(true);
    const mixed = heldout(["import", file, "--format", "openai-chat", "--judge-model", "models/stories260k.yaml", "--out", join(work, "chat-mixed")]);
    expect(mixed.stderr).toBe("");
    const some = loadSuite(join(work, "chat-mixed"));
    expect(some.scorer).toEqual({ type: "exact" });
    expect(some.tasks.filter((t) => t.scorer?.type === "judge").map((t) => t.vars.input)).toEqual(["No reply here"]);
    expect(some.tasks.filter((t) => t.scorer === undefined)).toHaveLength(4);
    expect(some.description).toContain("1 task(s) have no expected answer: the judge scorer (models/stories260k.yaml) grades them against its rubric");

    const malformed = join(work, "chat-bad.jsonl");
    writeFileSync(malformed, `${JSON.stringify(lines[0])}\n{"messages": "not a list"}\n`);
    const m = heldout(["import", malformed, "--format", "openai-chat", "--out", join(work, "chat-bad")]);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain(`${malformed}:2: field "messages": "messages" must be a list of messages`);
  });

  it("ollama-log: /api/chat and /api/generate dumps; server log lines are counted and skipped", () => {
    const file = join(work, "ollama.log");
    const lines = [
      'time=2025-01-01T10:00:00.000Z level=INFO source=routes.go:1200 msg="Listening on 127.0.0.1:11434 (version 0.5.4)"',
      '[GIN] 2025/01/01 - 10:00:01 | 200 |  1.234s |       127.0.0.1 | POST     "/api/chat"',
      JSON.stringify({ model: "llama3.2", messages: [{ role: "user", content: "Name a primary colour" }], response: { message: { role: "assistant", content: "red" } } }),
      JSON.stringify({ model: "llama3.2", prompt: "Complete: the sky is", system: "One word.", response: "blue" }),
      JSON.stringify({ request: { model: "llama3.2", prompt: "Opposite of up?" }, response: { response: "down" } }),
      JSON.stringify({ model: "llama3.2", messages: [{ role: "user", content: "Mail ann@example.com from 10.1.2.3" }, { role: "assistant", content: "done" }] }),
    ];
    writeFileSync(file, `${lines.join("\n")}\n`);
    const out = join(work, "ollama");
    const r = heldout(["import", file, "--format", "ollama-log", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/read\s+4 records \(ollama-log\), 0 malformed; 2 server log lines skipped \(not request bodies\)/);
    expect(r.stdout).toMatch(/scrubbed\s+2 values in 1 items: EMAIL 1 \(1 distinct\), PHONE 0 \(0 distinct\), IP 1 \(1 distinct\)/);
    const tasks = readJsonl<{ id: string; vars: { input: string }; expected: string }>(join(out, "tasks.jsonl"));
    expect(tasks.map((t) => [t.id, t.vars.input, t.expected])).toEqual([
      ["task-3", "Name a primary colour", "red"],
      ["task-4", "System: One word.\n\nUser: Complete: the sky is", "blue"],
      ["task-5", "Opposite of up?", "down"],
      ["task-6", "Mail <EMAIL_1> from <IP_1>", "done"],
    ]);
    const bad = join(work, "ollama-bad.log");
    writeFileSync(bad, `${lines[0]}\n{"model": "x", "messages": [\n`);
    const b = heldout(["import", bad, "--format", "ollama-log", "--out", join(work, "ollama-bad")]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`${bad}:2: malformed line`);
  });

  it("a map naming a field no record has is an error for the input, a note for the others", () => {
    const file = join(work, "plain.jsonl");
    writeFileSync(file, `${JSON.stringify({ q: "a", a: "1" })}\n${JSON.stringify({ q: "b", a: "2" })}\n`);
    const r = heldout(["import", file, "--map", "input=question", "--out", join(work, "plain")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no record has the input field "question"');
    const ok = heldout(["import", file, "--map", "input=q,expected=a,area=team", "--out", join(work, "plain")]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('note: no record has the area field "team"');
    expect(readJsonl<{ id: string }>(join(work, "plain", "tasks.jsonl")).map((t) => t.id)).toEqual(["task-1", "task-2"]);
  });
});

// ─── the pure parts ────────────────────────────────────────────────────────────────────────────

describe("parsing", () => {
  it("dotted paths: nested keys, array indexes (negative from the end), keys holding dots", () => {
    const v = { request: { messages: [{ content: "a" }, { content: "b" }] }, "meta.team": "x", meta: { other: 1 } };
    expect(getPath(v, "request.messages.0.content")).toBe("a");
    expect(getPath(v, "request.messages.-1.content")).toBe("b");
    expect(getPath(v, "meta.team")).toBe("x");
    expect(getPath(v, "meta.other")).toBe(1);
    expect(getPath(v, "request.messages.9.content")).toBeUndefined();
    expect(parseMap("input=a.b, expected=c ,area=")).toEqual({ input: "a.b", expected: "c", area: null });
    expect(() => parseMap("prompt=x")).toThrow(/unknown field "prompt"/);
  });

  it("jsonl: empty and missing inputs are items without input; a wrong-typed input is malformed", () => {
    const opts: ParseOptions = { format: "jsonl", file: "log.jsonl", map: {}, reply: "expected", delimiter: "," };
    const r = parseLog(['{"input":"a","expected":1}', "", '{"input":""}', '{"other":1}', '{"input":{"x":1}}', "[1]"].join("\n"), opts);
    expect(r.records).toBe(5);
    expect(r.items.map((i) => [i.line, i.input, i.expected])).toEqual([
      [1, "a", 1],
      [3, "", undefined],
      [4, undefined, undefined],
    ]);
    expect(r.problems.map((p) => p.format())).toEqual([
      'log.jsonl:5: field "input": the input (input) must be text or a list of chat messages, got a mapping',
      "log.jsonl:6: malformed line: expected a JSON object, got a list",
    ]);
  });

  it("csv: quotes, doubled quotes, CRLF and line breaks inside quotes; strict errors with lines", () => {
    const r = parseCsv('\uFEFFa,b\r\n"x, y","say ""hi"""\r\n"two\nlines",z\n\nlast,\n');
    expect(r.problems).toEqual([]);
    expect(r.records).toEqual([
      { line: 1, fields: ["a", "b"] },
      { line: 2, fields: ["x, y", 'say "hi"'] },
      { line: 3, fields: ["two\nlines", "z"] },
      { line: 6, fields: ["last", ""] },
    ]);
    expect(parseCsv('a,b\nx"y,1\n"p"q,2\n').problems).toEqual([
      { line: 2, message: expect.stringContaining("a quote inside unquoted field 1") as unknown as string },
      { line: 3, message: "text after the closing quote of field 1" },
    ]);
    expect(parseCsv("a\tb\n1\t2\n", "\t").records[1]?.fields).toEqual(["1", "2"]);
  });
});

describe("duplicates", () => {
  it("normalises with NFKC, case folding and whitespace collapsing", () => {
    expect(normaliseText("  Ｈｅｌｌｏ\t\tWORLD\n ﬁne  ")).toBe("hello world fine");
    expect(normaliseText("Straße")).toBe(normaliseText("STRASSE"));
    expect(exactDuplicates(["a", "b", "a", "c", "b"])).toEqual({ kept: [0, 1, 3], removed: [{ index: 2, keptIndex: 0 }, { index: 4, keptIndex: 1 }] });
  });

  it("shingle similarity is the Jaccard index of k-character shingle sets", () => {
    expect([...shingles("abcdef", 5)]).toEqual(["abcde", "bcdef"]);
    expect([...shingles("abc", 5)]).toEqual(["abc"]);
    expect(shingles("", 5).size).toBe(0);
    expect(jaccard(new Set(["a", "b", "c"]), new Set(["b", "c", "d"]))).toBe(0.5);
    expect(shingleSimilarity("the quick brown fox", "THE  quick brown fox")).toBe(1);
    // 41 characters, 37 shingles; the changed character is in the last 3 of them: 34 shared of 40.
    const a = "the quick brown fox jumps over a lazy dog";
    const b = "the quick brown fox jumps over a lazy cog";
    expect(shingleSimilarity(a, b)).toBeCloseTo(34 / 40, 10);
    expect(shingleSimilarity(a, "entirely unrelated words here")).toBe(0);
  });

  it("finds exactly the pairs a brute-force comparison finds, keeping the first occurrence", () => {
    const rng = createRng(3);
    const alphabet = "abc de";
    const texts: string[] = [];
    for (let i = 0; i < 400; i++) {
      if (i > 0 && rng() < 0.4) {
        // A mutation of an earlier text: some characters changed, added or removed.
        const src = texts[randomInt(rng, texts.length)] as string;
        const chars = [...src];
        const edits = randomInt(rng, 4);
        for (let e = 0; e < edits; e++) chars.splice(randomInt(rng, chars.length + 1), randomInt(rng, 2), alphabet[randomInt(rng, alphabet.length)] as string);
        texts.push(chars.join(""));
      } else texts.push(Array.from({ length: 10 + randomInt(rng, 60) }, () => alphabet[randomInt(rng, alphabet.length)]).join(""));
    }
    for (const t of [0.5, 0.8, 0.9, 1]) {
      for (const k of [3, 5]) {
        const sets = texts.map((x) => shingles(x, k));
        const kept: number[] = [];
        const removed: { index: number; keptIndex: number; similarity: number }[] = [];
        sets.forEach((s, i) => {
          let best: { index: number; keptIndex: number; similarity: number } | undefined;
          for (const j of kept) {
            const sim = jaccard(s, sets[j] as Set<string>);
            if (sim >= t - 1e-9 && (!best || sim > best.similarity)) best = { index: i, keptIndex: j, similarity: sim };
          }
          if (best) removed.push(best);
          else kept.push(i);
        });
        const got = nearDuplicates(texts, t, k);
        expect(got.kept).toEqual(kept);
        expect(got.removed.map((d) => [d.index, d.keptIndex])).toEqual(removed.map((d) => [d.index, d.keptIndex]));
        for (const [x, y] of got.removed.map((d, i) => [d.similarity, removed[i]?.similarity])) expect(x).toBeCloseTo(y as number, 12);
        expect(removed.length).toBeGreaterThan(0);
      }
    }
  });

  it("20,000 texts take well under the time a pairwise comparison would", () => {
    const rng = createRng(11);
    const words = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}x`);
    const texts = Array.from({ length: 20_000 }, () => Array.from({ length: 30 }, () => words[randomInt(rng, words.length)]).join(" "));
    for (let i = 0; i < 200; i++) texts.push(`${texts[i]}!`);
    const t0 = performance.now();
    const r = nearDuplicates(texts.map(normaliseText), 0.9, 5);
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(r.removed).toHaveLength(200);
  });
});

describe("scrubbing", () => {
  const scrub = (text: string, kinds?: ScrubKind[]) => new Scrubber(kinds).scrub(text);

  it("replaces each kind with a typed placeholder, the same value with the same number", () => {
    const s = new Scrubber();
    const counts = { EMAIL: 0, PHONE: 0, IP: 0, KEY: 0, NUMBER: 0 };
    expect(s.scrub("mail a@b.com, then c.d@e.org, then a@b.com again", counts)).toBe("mail <EMAIL_1>, then <EMAIL_2>, then <EMAIL_1> again");
    expect(s.scrub("cc a@b.com")).toBe("cc <EMAIL_1>");
    expect(counts.EMAIL).toBe(3);
    expect(s.stats()).toEqual({ replaced: { EMAIL: 4, PHONE: 0, IP: 0, KEY: 0, NUMBER: 0 }, distinct: { EMAIL: 2, PHONE: 0, IP: 0, KEY: 0, NUMBER: 0 } });
  });

  it.each([
    ["call +1 (415) 555-0132 now", "call <PHONE_1> now"],
    ["call 415.555.0132", "call <PHONE_1>"],
    ["tel +49 30 901820", "tel <PHONE_1>"],
    ["host 10.0.0.1:8080 down", "host <IP_1>:8080 down"],
    ["from fe80::1ff:fe23:4567:890a", "from <IP_1>"],
    ["at [2001:db8::1]:443", "at [<IP_1>]:443"],
    ["key sk-ant-api03-abcdefghijklmnopqrstu", "key <KEY_1>"],
    ["token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token <KEY_1>"],
    ["aws AKIAABCDEFGHIJKLMNOP", "aws <KEY_1>"],
    ["Authorization: Bearer abc123def456ghi789", "Authorization: Bearer <KEY_1>"],
    ["jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", "jwt <KEY_1>"],
    ['{"api_key": "Zx9-Qw8_Er7Ty6"}', '{"api_key": "<KEY_1>"}'],
    ["password=hunter2!x", "password=<KEY_1>"],
    ["sha 0123456789abcdef0123456789abcdef", "sha <KEY_1>"],
    ["blob aGVsbG8gV29ybGQhIFRoaXMgaXMgYSBzZWNyZXQ0Mg==", "blob <KEY_1>"],
    ["card 4242-4242-4242-4242 ok", "card <NUMBER_1> ok"],
    ["acct 000123456789", "acct <NUMBER_1>"],
    ["iban GB82 WEST 1234 5698 7654 32", "iban <NUMBER_1>"],
  ])("%s", (input, want) => {
    expect(scrub(input)).toBe(want);
  });

  it.each([
    "version 1.2.3.4 of the app",
    "v1.2.3.4",
    "User-Agent: Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
    "on 2024-05-01 at 12:30:45.123",
    "due 01/05/2024, ref 12345678",
    "pi is 3.14159265358979",
    "1,234,567,890 people",
    "years 2019 2020 2021 2022",
    "std::vector<int> and a::b",
    "id 550e8400-e29b-41d4-a716-446655440000",
    "token: required, password: see below",
    "path src/components/Button2Component/index/Header3Title.tsx",
    "max_tokens: 256",
    "see <EMAIL_1> and <KEY_12>",
    "score 1.2.3.256",
  ])("leaves alone: %s", (input) => {
    expect(scrub(input)).toBe(input);
  });

  it("runs keys before numbers and only the kinds asked for", () => {
    expect(scrub("key AKIA1234567890123456")).toBe("key <KEY_1>");
    expect(scrub("a@b.com 10.0.0.1", ["IP"])).toBe("a@b.com <IP_1>");
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("2019202020212022")).toBe(false);
  });
});

describe("stratified sampling", () => {
  const counts = (m: Record<string, number>) => new Map(Object.entries(m));

  it("gives every area the same share, balanced within one, the extras drawn with the seed", () => {
    const a = allocate(counts({ a: 100, b: 100, c: 100 }), 100, createRng(1));
    const takes = a.areas.map((x) => x.take);
    expect(takes.reduce((s, x) => s + x, 0)).toBe(100);
    expect(Math.max(...takes) - Math.min(...takes)).toBe(1);
    expect(a.short).toEqual([]);
    const seen = new Set<string>();
    for (let seed = 0; seed < 20; seed++) seen.add(allocate(counts({ a: 100, b: 100, c: 100 }), 100, createRng(seed)).areas.find((x) => x.take === 34)?.area ?? "");
    expect(seen.size).toBeGreaterThan(1);
  });

  it("takes all of a short area and shares the rest evenly", () => {
    const a = allocate(counts({ big: 500, small: 10, mid: 70, other: 400 }), 240, createRng(7));
    expect(Object.fromEntries(a.areas.map((x) => [x.area, x.take]))).toEqual({ big: 80, mid: 70, other: 80, small: 10 });
    expect(a.short).toEqual(["mid", "small"]);
    const all = allocate(counts({ a: 3, b: 4 }), 10, createRng(7));
    expect(all.tookAll).toBe(true);
    expect(all.areas.map((x) => x.take)).toEqual([3, 4]);
  });

  it("is a function of the items, the size and the seed", () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ i, area: ["x", "y", "z"][i % 7 === 0 ? 0 : i % 3] as string }));
    const s1 = stratifiedSample(items, (t) => t.area, 90, 5).sample.map((t) => t.i);
    const s2 = stratifiedSample(items, (t) => t.area, 90, 5).sample.map((t) => t.i);
    const s3 = stratifiedSample(items, (t) => t.area, 90, 6).sample.map((t) => t.i);
    expect(s1).toEqual(s2);
    expect(s1).not.toEqual(s3);
    expect(new Set(s1).size).toBe(90);
    expect(s1).toEqual([...s1].sort((a, b) => a - b));
    const per = new Map<string, number>();
    for (const i of s1) per.set(items[i]?.area ?? "", (per.get(items[i]?.area ?? "") ?? 0) + 1);
    expect([...per.values()]).toEqual([30, 30, 30]);
  });
});
