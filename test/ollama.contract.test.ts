import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Ollama } from "ollama";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContextSettings, GenerationRequest, LoadTarget, PreparedPrompt } from "../src/backends/backend.js";
import { RequestFailure } from "../src/backends/dispatch.js";
import { OllamaBackend } from "../src/backends/ollama.js";
import type { Generation, RunRecord, SamplingSettings, ServerSettings } from "../src/core/types.js";
import { startOllamaContractServer, TINY, type ContractServer, type ContractServerOptions } from "./fixtures/ollama-server.js";
import { ROOT, copySuite, readJsonl, tempDir, type CliResult } from "./helpers/cli.js";

/**
 * Contract tests of the ollama backend against a loopback server that answers as Ollama's REST API
 * is documented (docs/api.md, v0.6–v0.12): what reaches the server, what comes back, and how each
 * failure is classified, through generateAll and dispatch as the runner calls them.
 */

const SAMPLING: SamplingSettings = { temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05, repeatPenalty: 1.1, repeatLastN: 32, seed: 7, stop: ["\n"] };
const CONTEXT: ContextSettings = { threads: 3, contextSize: 512, flashAttention: false, parallel: 2 };

function target(endpoints: string[], server: Partial<ServerSettings> = {}, gpuLayers: number | "auto" = 5): LoadTarget {
  return {
    backend: "ollama",
    runtime: { threads: 3, gpuLayers, contextSize: 512, flashAttention: false, binary: "auto", gpu: "auto" },
    // No warm-up request: these tests count and shape every request the server receives.
    server: { endpoints, model: "tiny", api: "completions", requestTimeoutMs: 5_000, retries: 0, warmUp: false, ...server },
  };
}

const request = (key: string, prompt: PreparedPrompt, extra: Partial<GenerationRequest> = {}): GenerationRequest => ({
  key,
  prompt,
  maxTokens: 16,
  sampling: SAMPLING,
  timeoutMs: 10_000,
  ...extra,
});

/** Loads, prepares every text with `chatTemplate`, generates them all; results in request order. */
async function generate(
  endpoints: string[],
  texts: string[],
  opts: { server?: Partial<ServerSettings>; chatTemplate?: "auto" | "never" | "always"; system?: string | null; extra?: Partial<GenerationRequest>; context?: Partial<ContextSettings>; gpuLayers?: number | "auto"; onEach?: (g: Generation) => void } = {},
): Promise<Generation[]> {
  const backend = new OllamaBackend();
  await backend.load(target(endpoints, opts.server, opts.gpuLayers));
  const requests: GenerationRequest[] = [];
  for (const [i, text] of texts.entries()) requests.push(request(`r${i}`, await backend.preparePrompt(text, opts.chatTemplate ?? "never", opts.system ?? null), opts.extra));
  const results = new Map<string, Generation>();
  const batch = await backend.generateAll(requests, { ...CONTEXT, ...opts.context }, (r, g) => {
    results.set(r.key, g);
    opts.onEach?.(g);
  });
  expect(batch.aborted).toBe(false);
  await backend.unload();
  return requests.map((r) => results.get(r.key) as Generation);
}

/** A server for one test, closed after it. */
async function withServer<T>(options: ContractServerOptions, body: (s: ContractServer) => Promise<T>): Promise<T> {
  const server = await startOllamaContractServer(options);
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}

const generateBodies = (s: ContractServer) => s.requests.filter((r) => r.path === "/api/generate").map((r) => r.body ?? {});

describe("contract: load", () => {
  let server: ContractServer;
  beforeAll(async () => (server = await startOllamaContractServer()));
  afterAll(() => server.close());

  it("reads the model's digest (tags) and details (show) from each endpoint", async () => {
    const backend = new OllamaBackend();
    const info = await backend.load(target([server.url]));
    expect(info.warnings).toEqual([]);
    expect(info.engine).toEqual({
      library: "ollama",
      endpoints: [{ endpoint: server.url, version: "0.12.0", model: "tiny:latest", digest: TINY.digest, sizeBytes: TINY.size, details: TINY.details, hasTemplate: true }],
    });
    expect(info.runtime).toMatchObject({ model: "tiny", keepAlive: "30m", numGpu: 5 });
    const paths = server.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain("POST /api/show");
    expect(paths).toContain("GET /api/tags");
    expect(server.requests.find((r) => r.path === "/api/show")?.body).toEqual({ model: "tiny" });
  });

  it("throws model-not-found naming the endpoint and the model when the server does not have it", async () => {
    const error = await new OllamaBackend().load(target([server.url], { model: "llama9:70b" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestFailure);
    expect((error as RequestFailure).kind).toBe("model-not-found");
    expect((error as RequestFailure).message).toContain(server.url);
    expect((error as RequestFailure).message).toContain('"llama9:70b"');
    expect((error as RequestFailure).message).toMatch(/not found/);
  });

  it("warns about an endpoint that does not answer, and fails only when none answers", async () => {
    const dead = await startOllamaContractServer();
    await dead.close();
    const info = await new OllamaBackend().load(target([dead.url, server.url]));
    expect(info.warnings).toHaveLength(1);
    expect(info.warnings[0]).toContain(dead.url);
    await expect(new OllamaBackend().load(target([dead.url]))).rejects.toThrow(/no endpoint answered/);
  });
});

describe("contract: request body", () => {
  let server: ContractServer;
  beforeAll(async () => (server = await startOllamaContractServer()));
  afterAll(() => server.close());

  it("sends every sampling and context option explicitly, raw with chatTemplate never", async () => {
    server.requests.length = 0;
    const backend = new OllamaBackend();
    await backend.load(target([server.url]));
    const prompt = await backend.preparePrompt("one two three", "never", null);
    expect(prompt).toEqual({ text: "one two three", tokenIds: [], chatTemplate: null, stopStrings: [] });
    await backend.generateAll([request("a", { ...prompt, stopStrings: ["</s>"] }), request("b", prompt)], CONTEXT, () => undefined);
    const [body] = generateBodies(server);
    expect(body).toEqual({
      model: "tiny",
      prompt: "one two three",
      raw: true,
      stream: true,
      keep_alive: "30m",
      options: { temperature: 0.7, top_p: 0.9, top_k: 40, min_p: 0.05, repeat_penalty: 1.1, repeat_last_n: 32, seed: 7, num_predict: 16, stop: ["\n", "</s>"], num_ctx: 512, num_thread: 3, num_gpu: 5 },
    });
    expect("system" in (body ?? {})).toBe(false);
  });

  it("lets Ollama apply the model's template with chatTemplate auto, the system text in `system`", async () => {
    server.requests.length = 0;
    const backend = new OllamaBackend();
    await backend.load(target([server.url]));
    for (const mode of ["auto", "always"] as const) {
      const prompt = await backend.preparePrompt("Tell me a story", mode, "You are brief.");
      expect(prompt).toEqual({ text: "Tell me a story", tokenIds: [], chatTemplate: "ollama", stopStrings: [], system: "You are brief." });
      await backend.generateAll([request(mode, prompt)], CONTEXT, () => undefined);
    }
    for (const body of generateBodies(server)) expect(body).toMatchObject({ prompt: "Tell me a story", raw: false, system: "You are brief." });
  });

  it("puts the system text before a raw prompt, and leaves num_thread and num_gpu out when they are auto", async () => {
    server.requests.length = 0;
    const [g] = await generate([server.url], ["a b"], { system: "SYS", context: { threads: "auto" }, gpuLayers: "auto" });
    expect(g?.error).toBeUndefined();
    const [body] = generateBodies(server);
    expect(body).toMatchObject({ prompt: "SYS\n\na b", raw: true });
    const options = body?.options as Record<string, unknown>;
    expect("num_thread" in options).toBe(false);
    expect("num_gpu" in options).toBe(false);
    expect(options.num_ctx).toBe(512);
  });
});

describe("contract: streaming", () => {
  let server: ContractServer;
  beforeAll(async () => (server = await startOllamaContractServer({ answers: { "Once upon a time": " there was a cat named Tom." } })));
  afterAll(() => server.close());

  it("returns the streamed text, Ollama's counts, and its durations in milliseconds", async () => {
    const [g] = await generate([server.url], ["Once upon a time"], { extra: { sampling: { ...SAMPLING, stop: [] } } });
    expect(g?.error).toBeUndefined();
    expect(g?.text).toBe(" there was a cat named Tom.");
    expect(g?.completionTokens).toBe(6);
    expect(g?.promptTokens).toBe(4);
    expect(g?.finishReason).toBe("eos");
    expect(g?.endpoint).toBe(server.url);
    expect(g?.attempts).toBe(1);
    expect(g?.serverTimings).toEqual({ load_duration: 1.5, prompt_eval_duration: 1, eval_duration: 12, total_duration: 14.623456, prompt_eval_count: 4, eval_count: 6 });
    const t = g?.timings;
    expect(t?.firstTokenMs).toBeGreaterThanOrEqual(t?.startMs ?? Infinity);
    expect(t?.lastTokenMs).toBeGreaterThanOrEqual(t?.firstTokenMs ?? Infinity);
    expect(t?.endMs).toBeGreaterThanOrEqual(t?.lastTokenMs ?? Infinity);
  });

  it("reports maxTokens when Ollama stops at num_predict, and stop when stop strings were given", async () => {
    const [cut, stopped] = await generate([server.url], ["Once upon a time", "Once upon a time"], { extra: { maxTokens: 2 } }).then(async (first) => [
      first[0],
      (await generate([server.url], ["Once upon a time"], { extra: { sampling: { ...SAMPLING, stop: [" cat"] } } }))[0],
    ]);
    expect(cut).toMatchObject({ text: " there was", completionTokens: 2, finishReason: "maxTokens" });
    expect(stopped).toMatchObject({ text: " there was a", finishReason: "stop" });
  });

  it("the fixture answers `stream: false` with one object, as Ollama does (checked through the ollama package)", async () => {
    const reply = await new Ollama({ host: server.url }).generate({ model: "tiny", prompt: "Once upon a time", raw: true, stream: false, options: { num_predict: 3 } });
    expect(reply).toMatchObject({ model: "tiny", response: " there was a", done: true, done_reason: "length", eval_count: 3, prompt_eval_count: 4 });
    expect(reply.total_duration).toBeGreaterThan(reply.eval_duration);
  });

  it("measures time to first token on the client, while the server is still streaming", async () => {
    await withServer({ chunkDelayMs: 40 }, async (slow) => {
      const [g] = await generate([slow.url], ["a b c d"]);
      const t = g?.timings;
      expect(g?.text).toBe(" d c b a");
      expect((t?.firstTokenMs ?? 0) - (t?.startMs ?? 0)).toBeGreaterThanOrEqual(30);
      expect((t?.endMs ?? 0) - (t?.firstTokenMs ?? 0)).toBeGreaterThanOrEqual(100);
    });
  });
});

describe("contract: failures", () => {
  const failure = async (options: ContractServerOptions, server: Partial<ServerSettings> = {}): Promise<Generation> =>
    withServer(options, async (s) => (await generate([s.url], ["a b c d e f"], { server }))[0] as Generation);

  it("HTTP 500 → http-5xx", async () => {
    const g = await failure({ failFirst: 1 });
    expect(g).toMatchObject({ errorKind: "http-5xx", finishReason: "error", attempts: 1, text: "" });
    expect(g.error).toMatch(/HTTP 500: llama runner process has terminated/);
  });

  it("HTTP 400 → http-4xx, not retried (the request itself is wrong)", async () => {
    const g = await failure({ failFirst: 1, failStatus: 400 }, { retries: 2 });
    expect(g).toMatchObject({ errorKind: "http-4xx", finishReason: "error", attempts: 1, text: "" });
    expect(g.error).toMatch(/HTTP 400: invalid options/);
  });

  it("a stream that ends without its done object → stream (truncated)", async () => {
    const g = await failure({ truncate: true });
    expect(g).toMatchObject({ errorKind: "stream", finishReason: "error" });
    expect(g.error).toMatch(/truncated/);
  });

  it("a malformed JSON line → stream", async () => {
    const g = await failure({ malformed: true });
    expect(g).toMatchObject({ errorKind: "stream", finishReason: "error" });
    expect(g.error).toMatch(/malformed/);
  });

  it('an {"error"} object in the stream → http-5xx', async () => {
    const g = await failure({ errorInStream: true });
    expect(g).toMatchObject({ errorKind: "http-5xx", finishReason: "error" });
    expect(g.error).toMatch(/error in the stream/);
  });

  it("a server slower than the request timeout → timeout", async () => {
    const g = await failure({ chunkDelayMs: 400 }, { requestTimeoutMs: 250 });
    expect(g).toMatchObject({ errorKind: "timeout", finishReason: "timeout" });
  });

  it("the request's own timeout applies when it is shorter than the server's", async () => {
    await withServer({ chunkDelayMs: 400 }, async (s) => {
      const [g] = await generate([s.url], ["a b"], { extra: { timeoutMs: 200 } });
      expect(g).toMatchObject({ errorKind: "timeout", finishReason: "timeout" });
    });
  });

  it("the socket closed mid-stream → connection", async () => {
    const g = await failure({ dropAfterChunks: 2 });
    expect(g).toMatchObject({ errorKind: "connection", finishReason: "error" });
  });

  it("a refused connection → connection", async () => {
    const s = await startOllamaContractServer();
    const backend = new OllamaBackend();
    await backend.load(target([s.url]));
    await s.close();
    const results: Generation[] = [];
    await backend.generateAll([request("a", await backend.preparePrompt("x", "never"))], CONTEXT, (_r, g) => void results.push(g));
    expect(results[0]).toMatchObject({ errorKind: "connection", finishReason: "error", endpoint: s.url });
  });

  it("a model the server no longer has → model-not-found, not retried", async () => {
    await withServer({}, async (s) => {
      const backend = new OllamaBackend();
      await backend.load(target([s.url], { retries: 2 }));
      s.options.models = [];
      const results: Generation[] = [];
      await backend.generateAll([request("a", await backend.preparePrompt("x", "never"))], CONTEXT, (_r, g) => void results.push(g));
      expect(results[0]).toMatchObject({ errorKind: "model-not-found", finishReason: "error", attempts: 1 });
      expect(results[0]?.error).toMatch(/model 'tiny' not found/);
    });
  });

  it("retries: a server that fails the first request, then answers, gives a good result after 2 attempts", async () => {
    await withServer({ failFirst: 1 }, async (s) => {
      const [g] = await generate([s.url], ["a b c"], { server: { retries: 1 } });
      expect(g).toMatchObject({ text: " c b a", finishReason: "stop", attempts: 2, endpoint: s.url });
      expect(g?.error).toBeUndefined();
      expect(generateBodies(s)).toHaveLength(2);
    });
  });
});

describe("contract: two endpoints", () => {
  const texts = Array.from({ length: 12 }, (_, i) => `task ${i} words here`);

  it("spreads generations over both endpoints and records which served each", async () => {
    const [a, b] = [await startOllamaContractServer({ chunkDelayMs: 5 }), await startOllamaContractServer({ chunkDelayMs: 5 })];
    try {
      const results = await generate([a.url, b.url], texts, { context: { parallel: 2 } });
      for (const [i, g] of results.entries()) expect(g).toMatchObject({ text: ` here words ${i} task`, attempts: 1 });
      const served = new Set(results.map((g) => g.endpoint));
      expect(served).toEqual(new Set([a.url, b.url]));
      expect(a.completed() + b.completed()).toBe(texts.length);
      expect(a.completed()).toBeGreaterThan(0);
      expect(b.completed()).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("finishes every generation on the other endpoint when one server dies mid-run", async () => {
    const [a, b] = [await startOllamaContractServer({ chunkDelayMs: 15 }), await startOllamaContractServer({ chunkDelayMs: 15 })];
    try {
      let closing: Promise<void> | undefined;
      const results = await generate([a.url, b.url], texts, {
        server: { retries: 2 },
        onEach: (g) => {
          if (g.endpoint === a.url && !closing) closing = a.close();
        },
      });
      await closing;
      expect(closing).toBeDefined();
      for (const [i, g] of results.entries()) {
        expect(g.error).toBeUndefined();
        expect(g.text).toBe(` here words ${i} task`);
      }
      // Requests caught on the dead server were retried on the live one.
      expect(results.some((g) => g.attempts === 2 && g.endpoint === b.url)).toBe(true);
      const late = results.filter((g) => g.endpoint === b.url);
      expect(late.length).toBeGreaterThan(texts.length / 2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

/** The CLI, spawned without blocking: the contract server lives in this process and must keep answering. */
function heldoutAsync(args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, "bin/heldout.js"), ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe("contract: heldout run through the CLI", () => {
  it("runs tinystories on the ollama backend and records endpoint, attempts and serverTimings", async () => {
    const suite = copySuite("tinystories");
    const tasks = readFileSync(join(suite, "tasks.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { vars: { text: string }; expected?: unknown });
    // The fake model answers the expected word where a task has one: the run's pass rate shows the outputs went through.
    const answers = Object.fromEntries(tasks.filter((t) => typeof t.expected === "string").map((t) => [t.vars.text, ` ${String(t.expected)} and then`]));
    await withServer({ answers, failFirst: 1 }, async (s) => {
      const dir = tempDir("heldout-ollama-");
      const manifest = join(dir, "fake-ollama.yaml");
      writeFileSync(manifest, `id: fake-ollama\nbackend: ollama\nserver:\n  endpoints: [${s.url}]\n  model: tiny\n  retries: 2\n  warmUp: false\n`);
      const out = join(dir, "results");
      const r = await heldoutAsync(["run", "--suite", suite, "--model", manifest, "--out", out, "--run-id", "ollama", "--allow-unfrozen", "--json", "-q"]);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.code).toBe(0);
      const records = readJsonl<RunRecord>(join(out, "ollama", "records.jsonl"));
      expect(records).toHaveLength(tasks.length);
      for (const record of records) {
        expect(record.error).toBeNull();
        expect(record.endpoint).toBe(s.url);
        expect(record.serverTimings).toMatchObject({ load_duration: 1.5, eval_count: record.completionTokens });
        expect(record.ttftMs).not.toBeNull();
      }
      expect(records.filter((x) => x.attempts === 2)).toHaveLength(1);
      const answered = records.filter((x) => x.output.startsWith(" ") && x.output.endsWith(" and then"));
      expect(answered.length).toBeGreaterThan(0);
      expect(answered.every((x) => x.score.pass)).toBe(true);
      const cell = readJsonl<{ backend: { engine: Record<string, unknown> } }>(join(out, "ollama", "cells.jsonl"))[0];
      expect(cell?.backend.engine).toMatchObject({ library: "ollama", endpoints: [{ endpoint: s.url, digest: TINY.digest }] });
    });
  });
});

describe("contract: warm-up", () => {
  it("sends one short untimed request per endpoint before a cell, and records only the real ones", async () => {
    const a = await startOllamaContractServer({});
    const b = await startOllamaContractServer({});
    try {
      const seen: Generation[] = [];
      await generate([a.url, b.url], ["one two", "three four", "five six"], { server: { warmUp: true }, onEach: (g) => seen.push(g) });
      expect(seen).toHaveLength(3);
      const bodies = [...generateBodies(a), ...generateBodies(b)] as { options?: { num_predict?: number } }[];
      // 3 generations + 1 warm-up on each of the 2 endpoints, the warm-ups at most 8 tokens.
      expect(bodies).toHaveLength(5);
      expect(bodies.filter((x) => (x.options?.num_predict ?? 0) <= 8)).toHaveLength(2);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
