import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Summary } from "../src/core/summary.js";
import type { RunRecord } from "../src/core/types.js";
import { SHARED_MODELS, heldout, readJsonl, tempDir } from "./helpers/cli.js";
import { startLlamaServer, type RunningServer } from "./helpers/llama-server.js";

/**
 * The OpenAI-compatible backend against real llama-server processes on 127.0.0.1 (built from the
 * llama.cpp source node-llama-cpp ships), serving ../shared/models/stories260K.gguf.
 */

const dir = tempDir("heldout-server-");
const servers: RunningServer[] = [];

function manifest(name: string, endpoints: string[], extra = ""): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `id: ${name}\nbackend: openai\nserver:\n  endpoints: [${endpoints.join(", ")}]\n  model: stories260k\n${extra}`);
  return file;
}

beforeAll(async () => {
  servers.push(await startLlamaServer(join(SHARED_MODELS, "stories260K.gguf"), "stories260k"));
  servers.push(await startLlamaServer(join(SHARED_MODELS, "stories260K.gguf"), "stories260k"));
}, 900_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe("llama-server through the OpenAI-compatible backend", () => {
  it("gives the same greedy outputs and prompt tokens as node-llama-cpp in-process", () => {
    const server = manifest("served", [servers[0]?.url as string]);
    const r = heldout(["run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--model", server, "--out", dir, "--run-id", "same", "-q", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const records = readJsonl<RunRecord>(join(dir, "same", "records.jsonl"));
    const local = new Map(records.filter((x) => x.modelId === "stories260k").map((x) => [x.taskId, x]));
    const served = records.filter((x) => x.modelId === "served");
    expect(served).toHaveLength(40);
    for (const s of served) {
      const l = local.get(s.taskId) as RunRecord;
      expect(s.output, s.taskId).toBe(l.output);
      // llama-server's /tokenize gives the ids it feeds: the same as heldout's own tokenization.
      expect(s.promptTokenIds).toEqual(l.promptTokenIds);
      expect(s.endpoint).toBe(servers[0]?.url);
      // The same count of output tokens; llama-server's own count includes an end-of-sequence token.
      expect(s.completionTokens, s.taskId).toBe(l.completionTokens);
      expect(s.serverTimings?.predicted_n).toBe(s.completionTokens + (s.finishReason === "eos" ? 1 : 0));
      expect(s.ttftMs).toBeGreaterThan(0);
    }
    const summary = JSON.parse(r.stdout) as Summary;
    expect(summary.cells.map((c) => c.passRate)).toEqual([summary.cells[0]?.passRate, summary.cells[0]?.passRate]);
  });

  it("spreads a sweep over two servers, and finishes on one when the other is killed mid-run", async () => {
    const extra = await startLlamaServer(join(SHARED_MODELS, "stories260K.gguf"), "stories260k");
    const both = manifest("two", [servers[0]?.url as string, extra.url], "  retries: 3\n");
    const profile = join(dir, "sweep.yaml");
    writeFileSync(profile, "name: s\nsampling:\n  temperature: 0\n  topK: [0, 40, 20, 10]\n  maxTokens: 48\nparallel: 2\n");
    const { spawn } = await import("node:child_process");
    const { ROOT } = await import("./helpers/cli.js");
    const child = spawn(process.execPath, [join(ROOT, "bin/heldout.js"), "run", "--suite", "tasks/tinystories", "--model", both, "--profile", profile, "--out", dir, "--run-id", "two", "-q"], { cwd: ROOT });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // Kill the second server once the run has written some records.
    const file = join(dir, "two", "records.jsonl");
    const { existsSync, readFileSync } = await import("node:fs");
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(existsSync(file) && readFileSync(file, "utf8").split("\n").length > 30)) await new Promise((r) => setTimeout(r, 20));
    await extra.stop();
    const code = await new Promise<number | null>((done) => child.on("close", done));
    expect(code, stderr).toBe(0);
    const records = readJsonl<RunRecord>(file);
    expect(records).toHaveLength(160);
    expect(new Set(records.map((x) => `${x.cellId}/${x.taskId}`)).size).toBe(160);
    expect(records.every((x) => x.error === null)).toBe(true);
    const endpoints = new Set(records.map((x) => x.endpoint));
    expect(endpoints).toEqual(new Set([servers[0]?.url, extra.url]));
    // Requests in flight on the killed server were retried on the other one.
    expect(records.some((x) => x.attempts > 1)).toBe(true);
  }, 120_000);

  it("fails a model the server does not have with a clear message, and the run goes on", () => {
    const wrong = join(dir, "wrong.yaml");
    writeFileSync(wrong, `id: wrong\nbackend: openai\nserver:\n  endpoints: [${servers[0]?.url}]\n  model: no-such-model\n`);
    const r = heldout(["run", "--suite", "tasks/tinystories", "--model", wrong, "--model", manifest("ok", [servers[0]?.url as string]), "--out", dir, "--run-id", "wrong", "--json", "-q"]);
    expect(r.code).toBe(3);
    const summary = JSON.parse(r.stdout) as Summary;
    expect(summary.cells[0]?.status).toBe("failed");
    expect(summary.cells[0]?.error).toMatch(/does not serve a model "no-such-model" \(it serves: stories260k\)/);
    expect(summary.cells[1]?.status).toBe("completed");
  });

  it("records connection refused and timeouts as failures of their kind", async () => {
    const { freePort } = await import("./helpers/llama-server.js");
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const refused = heldout(["run", "--suite", "tasks/tinystories", "--model", manifest("refused", [nobody]), "--out", dir, "--run-id", "refused", "--json", "-q"]);
    expect(refused.code).toBe(3);
    expect((JSON.parse(refused.stdout) as Summary).cells[0]?.error).toMatch(/no endpoint answered: .*ECONNREFUSED/);

    // 5 ms for 200 tokens (about 50 ms of generating here): every request times out, none by luck.
    const slow = manifest("slow", [servers[0]?.url as string], "  requestTimeoutMs: 5\n  retries: 1\n");
    const long = join(dir, "long.yaml");
    writeFileSync(long, "name: long\nsampling:\n  maxTokens: 200\n");
    const timedOut = heldout(["run", "--suite", "tasks/tinystories", "--model", slow, "--profile", long, "--out", dir, "--run-id", "slow", "--json", "-q"]);
    expect(timedOut.code).toBe(0);
    const records = readJsonl<RunRecord>(join(dir, "slow", "records.jsonl"));
    // A generation slower than its timeout is recorded as a timeout, not retried (it would be as slow again).
    // (Rarely, about one run in five under load, one request of the 40 is not a clean timeout; the
    // offenders are printed so the cause can be found. Every generation must still fail.)
    const offenders = records.filter((x) => !(x.finishReason === "timeout" && x.errorKind === "timeout" && x.attempts === 1));
    expect(offenders.length, JSON.stringify(offenders.map((x) => [x.taskId, x.finishReason, x.errorKind, x.attempts, x.error]))).toBeLessThanOrEqual(1);
    expect(records.every((x) => x.error !== null)).toBe(true);
    const summary = JSON.parse(timedOut.stdout) as Summary;
    expect(summary.cells[0]?.failures.rate).toBe(1);
    expect(summary.cells[0]?.failures.timeouts).toBeGreaterThanOrEqual(39);
  });

  it("heldout doctor says which models are ready and how to fix the others", async () => {
    const { freePort } = await import("./helpers/llama-server.js");
    const down = manifest("down", [`http://127.0.0.1:${await freePort()}`]);
    const missing = join(dir, "missing.yaml");
    writeFileSync(missing, "id: missing\nbackend: llama\nsources: [./nope.gguf]\n");
    const r = heldout(["doctor", "--suite", "tasks/tinystories", "--model", manifest("up", [servers[0]?.url as string]), "--model", down, "--model", missing, "--model", "models/stories260k.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^OK\s+suite tinystories\s+40 tasks, frozen/m);
    expect(r.stdout).toMatch(/^OK\s+model up\s+stories260k on http:\/\/127\.0\.0\.1:\d+/m);
    expect(r.stdout).toMatch(/^FAIL\s+model down\s+no endpoint answered: .*ECONNREFUSED[\s\S]*?fix: start the server/m);
    expect(r.stdout).toMatch(/^FAIL\s+model missing\s+.*no source could be loaded[\s\S]*?fix: fix `sources` in the manifest/m);
    expect(r.stdout).toMatch(/^OK\s+model stories260k\s+.*sha256 270cba1bd510/m);
    expect(r.stdout).toMatch(/^(OK|WARN)\s+engine binary\s+node-llama-cpp (prebuilt|localBuild)/m);
    expect(r.stdout).toMatch(/2 check\(s\) failed/);
  });

  it("--engine llama-server runs a GGUF through llama.cpp's own server: same greedy outputs, its memory, and no server left behind", async () => {
    const profile = join(dir, "engines.yaml");
    writeFileSync(profile, "name: engines\nruntime:\n  engine: [embedded, llama-server]\nparallel: [1, 2]\n");
    const r = heldout(["run", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--profile", profile, "--out", dir, "--run-id", "engines", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as Summary;
    expect(summary.cells.map((c) => c.label["runtime.engine"])).toEqual(["embedded", "embedded", "llama-server", "llama-server"]);
    const records = readJsonl<RunRecord>(join(dir, "engines", "records.jsonl"));
    const byCell = (i: number) => new Map(records.filter((x) => x.cellId === summary.cells[i]?.cellId).map((x) => [x.taskId, x.output]));
    expect([...byCell(2).entries()].sort()).toEqual([...byCell(0).entries()].sort());
    expect(summary.cells.every((c) => c.n === 40 && c.failures.errors === 0)).toBe(true);
    const cells = readJsonl<{ cellId: string; backend: { kind: string; engine: { library?: string } } }>(join(dir, "engines", "cells.jsonl"));
    expect(cells.filter((c) => c.backend.engine.library === "llama-server")).toHaveLength(2);
    // The server is a child of the engine host: gone with it.
    await new Promise((done) => setTimeout(done, 1000));
    const { spawnSync } = await import("node:child_process");
    const left = spawnSync("pgrep", ["-f", "llama-server .* -a model "], { encoding: "utf8" }).stdout.trim();
    expect(left).toBe("");
  });

  it("counts output tokens as the embedded engine does when generation ends at end-of-sequence", () => {
    const profile = join(dir, "both.yaml");
    writeFileSync(profile, "name: both\nruntime:\n  engine: [embedded, llama-server]\n");
    const r = heldout(["run", "--model", "models/arith-step600.yaml", "--profile", profile, "--out", dir, "--run-id", "eos", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as Summary;
    const records = readJsonl<RunRecord>(join(dir, "eos", "records.jsonl"));
    const [embedded, served] = [0, 1].map((i) => new Map(records.filter((x) => x.cellId === summary.cells[i]?.cellId).map((x) => [x.taskId, x])));
    let eos = 0;
    for (const [task, s] of served as Map<string, RunRecord>) {
      const e = (embedded as Map<string, RunRecord>).get(task) as RunRecord;
      expect(s.output, task).toBe(e.output);
      expect(s.completionTokens, task).toBe(e.completionTokens);
      // llama-server's token log-probabilities agree with node-llama-cpp's for the same tokens.
      expect(s.confidence?.tokens, task).toBe(e.confidence?.tokens);
      expect(Math.abs((s.confidence?.meanLogprob as number) - (e.confidence?.meanLogprob as number)), task).toBeLessThan(1e-3);
      if (s.finishReason === "eos") eos++;
    }
    expect(eos).toBeGreaterThan(900); // "61" then end-of-sequence: the case llama-server counts one more
  });
});

