import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeldoutError, HeldoutErrors } from "../src/core/errors.js";
import { DEFAULT_SAMPLING, parseProfile } from "../src/core/profile.js";
import { DEFAULT_RUNTIME, parseModelSpec } from "../src/core/model-spec.js";
import { cacheDir, fileSha256, loadModelSpec, resolveModel } from "../src/store/models.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..");
const STORIES = path.resolve(here, "../../shared/models/stories260K.gguf");
const STORIES_SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

function thrown(fn: () => unknown): HeldoutError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HeldoutError);
    return e as HeldoutError;
  }
  throw new Error("expected a HeldoutError, nothing was thrown");
}

async function rejected(p: Promise<unknown>): Promise<HeldoutError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HeldoutError);
    return e as HeldoutError;
  }
  throw new Error("expected a HeldoutError, the promise resolved");
}

function problems(fn: () => unknown): HeldoutError[] {
  const e = thrown(fn);
  return e instanceof HeldoutErrors ? e.errors : [e];
}

/** `file:line: field "x": message` for each problem, the form a user sees. */
const formatted = (fn: () => unknown): string[] => problems(fn).map((e) => e.format());

describe("parseProfile: defaults", () => {
  it("an empty profile is explicit greedy decoding, one sample, one sequence", () => {
    const p = parseProfile("profiles/greedy.yaml", "");
    expect(p.sampling).toEqual({ temperature: 0, topP: 1, topK: 0, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: 42, stop: [] });
    expect(p.sampling).toEqual(DEFAULT_SAMPLING);
    expect(p.sampling.maxTokens).toBeUndefined();
    expect(p.samples).toBe(1);
    expect(p.parallel).toBe(1);
    expect(p.timeoutMs).toBe(120_000);
    // The name defaults to the file name without its extension.
    expect(p.name).toBe("greedy");
    expect(p.file).toBe("profiles/greedy.yaml");
  });

  it("an empty sampling section still gives every default", () => {
    expect(parseProfile("p.yaml", "sampling: {}\n").sampling).toEqual(DEFAULT_SAMPLING);
    expect(parseProfile("p.yaml", "sampling:\n").sampling).toEqual(DEFAULT_SAMPLING);
  });

  it("set values are kept; unset ones stay at their defaults", () => {
    const p = parseProfile("p.yaml", "name: warm\nsampling:\n  temperature: 0.7\n  topK: 40\n  maxTokens: 32\nsamples: 5\nparallel: 4\n");
    expect(p.name).toBe("warm");
    expect(p.sampling).toEqual({ ...DEFAULT_SAMPLING, temperature: 0.7, topK: 40, maxTokens: 32 });
    expect([p.samples, p.parallel]).toEqual([5, 4]);
  });

  it("stop may be a single string or a list", () => {
    expect(parseProfile("p.yaml", 'sampling:\n  stop: "\\n"\n').sampling.stop).toEqual(["\n"]);
    expect(parseProfile("p.yaml", "sampling:\n  stop: [END, '###']\n").sampling.stop).toEqual(["END", "###"]);
  });

  it("the shipped default profile parses to the defaults", () => {
    const file = path.join(repoRoot, "profiles", "default.yaml");
    const p = parseProfile(file, fs.readFileSync(file, "utf8"));
    expect(p.sampling).toEqual(DEFAULT_SAMPLING);
    expect([p.name, p.samples, p.parallel]).toEqual(["default", 1, 1]);
  });
});

describe("parseProfile: errors name file, line and field", () => {
  const one = (text: string): string => {
    const list = formatted(() => parseProfile("profiles/p.yaml", text));
    expect(list).toHaveLength(1);
    return list[0] as string;
  };

  it("each sampling setting of the wrong type or out of range", () => {
    const cases: [string, string][] = [
      ["temperature: -0.1", 'field "sampling.temperature": must be at least 0, got -0.1'],
      ["temperature: hot", 'field "sampling.temperature": must be a number, got "hot"'],
      ["topP: 1.5", 'field "sampling.topP": must be at most 1, got 1.5'],
      ["topP: -1", 'field "sampling.topP": must be at least 0, got -1'],
      ["topK: 2.5", 'field "sampling.topK": must be a whole number, got 2.5'],
      ["topK: -1", 'field "sampling.topK": must be at least 0, got -1'],
      ["minP: 2", 'field "sampling.minP": must be at most 1, got 2'],
      ["repeatPenalty: -1", 'field "sampling.repeatPenalty": must be at least 0, got -1'],
      ["repeatLastN: 1.5", 'field "sampling.repeatLastN": must be a whole number, got 1.5'],
      ["seed: -3", 'field "sampling.seed": must be at least 0, got -3'],
      ['seed: "42"', 'field "sampling.seed": must be a number, got "42"'],
      ["maxTokens: 0", 'field "sampling.maxTokens": must be at least 1, got 0'],
      ["maxTokens: lots", 'field "sampling.maxTokens": must be a number, got "lots"'],
      ["stop: [1, 2]", 'field "sampling.stop": must be a list of strings, got a list'],
      ["stop: 5", 'field "sampling.stop": must be a list of strings, got 5'],
      ["temprature: 0", 'field "sampling.temprature": unknown field; known fields: temperature, topP, topK, minP, repeatPenalty, repeatLastN, seed, maxTokens, stop'],
    ];
    for (const [setting, message] of cases) {
      expect(one(`# comment\nsampling:\n  # the setting under test:\n  ${setting}\n`), setting).toBe(`profiles/p.yaml:4: ${message}`);
    }
  });

  it("each top-level setting of the wrong type or out of range", () => {
    const cases: [string, string][] = [
      ["samples: 0", 'field "samples": must be at least 1, got 0'],
      ["samples: 1.5", 'field "samples": must be a whole number, got 1.5'],
      ["parallel: 0", 'field "parallel": must be at least 1, got 0'],
      ["parallel: 300", 'field "parallel": must be at most 256, got 300'],
      ["timeoutMs: 0", 'field "timeoutMs": must be at least 1, got 0'],
      ["timeoutMs: soon", 'field "timeoutMs": must be a number, got "soon"'],
      ["name: 5", 'field "name": must be a string, got 5'],
      ["sampling: 3", 'field "sampling": must be a mapping of fields, got 3'],
      ["sampling: [temperature]", 'field "sampling": must be a mapping of fields, got a list'],
      ["sampels: 3", 'field "sampels": unknown field; known fields: name, description, sampling, samples, parallel, timeoutMs, runtime, prompts, models, exclude, sample, seed'],
    ];
    for (const [setting, message] of cases) {
      expect(one(`description: x\n${setting}\n`), setting).toBe(`profiles/p.yaml:2: ${message}`);
    }
  });

  it("every problem is reported at once", () => {
    const text = ["sampling:", "  temperature: -1", "  topP: 2", "  bogus: 1", "samples: 0", "extra: 1", ""].join("\n");
    const e = thrown(() => parseProfile("p.yaml", text));
    expect(e).toBeInstanceOf(HeldoutErrors);
    expect(e.code).toBe("invalid-profile");
    expect((e as HeldoutErrors).errors.map((x) => [x.line, x.field])).toEqual([
      [6, "extra"],
      [4, "sampling.bogus"],
      [2, "sampling.temperature"],
      [3, "sampling.topP"],
      [5, "samples"],
    ]);
  });

  it("a profile that is not a mapping", () => {
    expect(one("- temperature: 0\n")).toBe("profiles/p.yaml:1: a profile must be a mapping of fields");
  });

  it("a YAML syntax error has code config-syntax and the file", () => {
    const [e] = problems(() => parseProfile("profiles/p.yaml", "sampling:\n  seed: 1\n  seed: 2\n"));
    expect(e?.code).toBe("config-syntax");
    expect(e?.file).toBe("profiles/p.yaml");
    expect(e?.message).toBe("Map keys must be unique");
  });

  // Regression (fixed in src/core/config-doc.ts parseConfig): yaml only sets e.linePos with prettyErrors:true, so the
  // line is always undefined; use lineCounter.linePos(e.pos[0]).line instead.
  it("a YAML syntax error names its line", () => {
    const [e] = problems(() => parseProfile("profiles/p.yaml", "sampling:\n  seed: 1\n  seed: 2\n"));
    expect(e?.format()).toBe("profiles/p.yaml:3: Map keys must be unique");
  });
});

describe("parseModelSpec", () => {
  it("a minimal manifest gets the default runtime", () => {
    const m = parseModelSpec("models/m.yaml", "id: tiny\nsources:\n  - tiny.gguf\n");
    expect(m).toEqual({ id: "tiny", backend: "llama", sources: ["tiny.gguf"], runtime: DEFAULT_RUNTIME, file: "models/m.yaml" });
    expect(DEFAULT_RUNTIME).toEqual({ threads: "auto", gpuLayers: "auto", contextSize: 2048, flashAttention: false, binary: "auto", gpu: "auto", engine: "embedded" });
  });

  it("`source` (one string) works like `sources`", () => {
    expect(parseModelSpec("m.yaml", "id: tiny\nsource: tiny.gguf\n").sources).toEqual(["tiny.gguf"]);
  });

  it("sha256 is accepted in upper case and kept in lower case", () => {
    expect(parseModelSpec("m.yaml", `id: tiny\nsource: a.gguf\nsha256: ${STORIES_SHA256.toUpperCase()}\n`).sha256).toBe(STORIES_SHA256);
  });

  it("every runtime field is read", () => {
    const m = parseModelSpec(
      "m.yaml",
      "id: tiny\nsources: [a.gguf, 'hf:x/y/z.gguf']\nruntime:\n  threads: 4\n  gpuLayers: max\n  contextSize: 512\n  flashAttention: true\n  binary: source\n  gpu: cpu\n  batchSize: 128\n",
    );
    expect(m.sources).toEqual(["a.gguf", "hf:x/y/z.gguf"]);
    expect(m.runtime).toEqual({ threads: 4, gpuLayers: "max", contextSize: 512, flashAttention: true, binary: "source", gpu: "cpu", engine: "embedded", batchSize: 128 });
    expect(parseModelSpec("m.yaml", "id: t\nsource: a\nruntime:\n  threads: 0\n  gpuLayers: 33\n").runtime).toMatchObject({ threads: 0, gpuLayers: 33 });
  });

  it("the shipped stories260k manifest parses", () => {
    const file = path.join(repoRoot, "models", "stories260k.yaml");
    const m = parseModelSpec(file, fs.readFileSync(file, "utf8"));
    expect(m.id).toBe("stories260k");
    expect(m.sha256).toBe(STORIES_SHA256);
  });

  const one = (text: string): string => {
    const list = formatted(() => parseModelSpec("models/m.yaml", text));
    expect(list).toHaveLength(1);
    return list[0] as string;
  };

  it("missing id, bad id, missing sources", () => {
    expect(one("source: a.gguf\n")).toBe('models/m.yaml:1: field "id": is required');
    expect(one("id: my model\nsource: a.gguf\n")).toBe(`models/m.yaml:1: field "id": must be letters, digits, '.', ':', '_' or '-'`);
    expect(one("id: m\n")).toBe('models/m.yaml:1: field "sources": is required: a list of file paths or hf: URIs, tried in order');
    expect(one("id: m\nsources: []\n")).toBe('models/m.yaml:2: field "sources": is required: a list of file paths or hf: URIs, tried in order');
  });

  it("sources that are not strings", () => {
    const list = formatted(() => parseModelSpec("models/m.yaml", "id: m\nsources: [1]\n"));
    expect(list[0]).toBe('models/m.yaml:2: field "sources": must be a list of strings, got a list');
  });

  it("a sha256 that is not 64 hex digits", () => {
    for (const v of ["abc", "z".repeat(64), `${STORIES_SHA256}0`]) {
      expect(one(`id: m\nsource: a\nsha256: ${v}\n`), v).toBe('models/m.yaml:3: field "sha256": must be 64 hexadecimal digits');
    }
    expect(one("id: m\nsource: a\nsha256: 123\n")).toBe('models/m.yaml:3: field "sha256": must be a string, got 123');
  });

  it("an unknown backend, an unknown field", () => {
    expect(one("id: m\nsource: a\nbackend: vllm\n")).toBe('models/m.yaml:3: field "backend": must be one of llama, openai, ollama, outputs, got "vllm"');
    expect(one("id: m\nsource: a\nsha: x\n")).toBe(
      'models/m.yaml:3: field "sha": unknown field; known fields: id, backend, sources, source, sha256, runtime, description, server',
    );
  });

  it("the outputs backend takes exactly one file and no `server`", () => {
    expect(one("id: m\nbackend: outputs\n")).toBe('models/m.yaml:1: field "sources": is required: the one JSONL file of outputs ({taskId, output} per line), relative to the manifest');
    expect(one("id: m\nbackend: outputs\nsources: [a.jsonl, b.jsonl]\n")).toMatch(/field "sources": is required: the one JSONL file/);
  });

  it("server backends need `server` and no files; the llama backend needs files and no `server`", () => {
    expect(one("id: m\nbackend: ollama\n")).toBe('models/m.yaml:1: field "server": is required for backend "ollama": {endpoints: [http://127.0.0.1:8080], model: name}');
    expect(one("id: m\nbackend: openai\nsource: a.gguf\nserver: {endpoints: [http://h:1], model: x}\n")).toBe(
      'models/m.yaml:3: field "source": backend "openai" talks to a server: give `server: {endpoints, model}` instead of files',
    );
    expect(one("id: m\nbackend: openai\nserver:\n  endpoints: [ftp://h]\n  model: x\n")).toBe('models/m.yaml:4: field "server.endpoints": "ftp://h" is not an http(s) URL');
    expect(one("id: m\nsource: a\nserver: {endpoints: [http://h:1], model: x}\n")).toMatch(/field "server": is for server backends/);
    const spec = parseModelSpec("models/m.yaml", "id: m\nbackend: openai\nserver:\n  endpoints: [http://127.0.0.1:8080/, http://127.0.0.1:8081]\n  model: x\n  apiKeyEnv: KEY\n");
    expect(spec.server).toEqual({ endpoints: ["http://127.0.0.1:8080", "http://127.0.0.1:8081"], model: "x", api: "completions", requestTimeoutMs: 120000, retries: 2, warmUp: true, apiKeyEnv: "KEY" });
    expect(spec.sources).toEqual([]);
  });

  it("each runtime field of the wrong type or range, with its line", () => {
    const cases: [string, string][] = [
      ["threads: max", 'field "runtime.threads": must be auto or a whole number ≥ 0, got "max"'],
      ["threads: -1", 'field "runtime.threads": must be auto or a whole number ≥ 0, got -1'],
      ["threads: 2.5", 'field "runtime.threads": must be auto or a whole number ≥ 0, got 2.5'],
      ["gpuLayers: all", 'field "runtime.gpuLayers": must be auto or max or a whole number ≥ 0, got "all"'],
      ["gpuLayers: -1", 'field "runtime.gpuLayers": must be auto or max or a whole number ≥ 0, got -1'],
      ["contextSize: 8", 'field "runtime.contextSize": must be at least 16, got 8'],
      ["contextSize: big", 'field "runtime.contextSize": must be a number, got "big"'],
      ["flashAttention: yes", 'field "runtime.flashAttention": must be true or false, got "yes"'],
      ["flashAttention: 1", 'field "runtime.flashAttention": must be true or false, got 1'],
      ["binary: custom", 'field "runtime.binary": must be one of auto, prebuilt, source, got "custom"'],
      ["gpu: cuda", 'field "runtime.gpu": must be one of auto, cpu, got "cuda"'],
      ["batchSize: 0", 'field "runtime.batchSize": must be at least 1, got 0'],
      ["batchSize: 1.5", 'field "runtime.batchSize": must be a whole number, got 1.5'],
      ["ctx: 512", 'field "runtime.ctx": unknown field; known fields: threads, gpuLayers, contextSize, batchSize, flashAttention, kvCacheType, binary, gpu, engine'],
    ];
    for (const [setting, message] of cases) {
      expect(one(`id: m\nsource: a.gguf\nruntime:\n  # the setting under test:\n  ${setting}\n`), setting).toBe(`models/m.yaml:5: ${message}`);
    }
    expect(one("id: m\nsource: a\nruntime: fast\n")).toBe('models/m.yaml:3: field "runtime": must be a mapping of fields, got "fast"');
  });

  it("every problem is reported at once, code invalid-model", () => {
    const e = thrown(() => parseModelSpec("m.yaml", "backend: x\nruntime:\n  threads: many\n  gpu: tpu\nfoo: 1\n"));
    expect(e).toBeInstanceOf(HeldoutErrors);
    expect(e.code).toBe("invalid-model");
    expect((e as HeldoutErrors).errors.map((x) => x.field)).toEqual(["foo", "id", "backend", "sources", "runtime.threads", "runtime.gpu"]);
  });

  it("a manifest that is not a mapping", () => {
    expect(one("just a string\n")).toBe("models/m.yaml:1: a model manifest must be a mapping of fields (id, backend, sources, ...)");
  });
});

describe("models store: loadModelSpec, resolveModel, fileSha256", () => {
  let tmp = "";
  let cache = "";
  const savedCache = process.env.HELDOUT_CACHE_DIR;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "heldout-models-"));
    cache = fs.mkdtempSync(path.join(os.tmpdir(), "heldout-cache-"));
    process.env.HELDOUT_CACHE_DIR = cache;
  });
  afterAll(() => {
    if (savedCache === undefined) delete process.env.HELDOUT_CACHE_DIR;
    else process.env.HELDOUT_CACHE_DIR = savedCache;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(cache, { recursive: true, force: true });
  });

  const manifest = (name: string, text: string): string => {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it("the fixture model exists", () => {
    expect(fs.existsSync(STORIES)).toBe(true);
    expect(cacheDir()).toBe(cache);
  });

  it("loadModelSpec of a .gguf path: one absolute source, id from the file name, default runtime", () => {
    const m = loadModelSpec(STORIES);
    expect(m).toEqual({ id: "stories260K", backend: "llama", sources: [STORIES], runtime: DEFAULT_RUNTIME, file: STORIES });
    expect(m.runtime).not.toBe(DEFAULT_RUNTIME); // a copy: changing it cannot change the defaults
  });

  it("loadModelSpec of a missing path", () => {
    const e = thrown(() => loadModelSpec(path.join(tmp, "nope.yaml")));
    expect(e.code).toBe("model-not-found");
    expect(e.message).toBe("model manifest not found");
    expect(e.file).toBe(path.join(tmp, "nope.yaml"));
  });

  it("loadModelSpec of a manifest reports its errors against the manifest path", () => {
    const file = manifest("bad.yaml", "id: m\nsource: a.gguf\nruntime:\n  gpu: tpu\n");
    const e = thrown(() => loadModelSpec(file));
    expect(e.format()).toBe(`${file}:4: field "runtime.gpu": must be one of auto, cpu, got "tpu"`);
  });

  it("resolveModel skips a missing first source and uses the second, hashing it", async () => {
    const file = manifest("two.yaml", `id: stories\nsources:\n  - missing/stories.gguf\n  - ${STORIES}\nsha256: ${STORIES_SHA256}\n`);
    const r = await resolveModel(loadModelSpec(file));
    expect(r.path).toBe(STORIES);
    expect(r.source).toBe(STORIES);
    expect(r.sha256).toBe(STORIES_SHA256);
    expect(r.sizeBytes).toBe(fs.statSync(STORIES).size);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0]).toMatch(/^missing\/stories\.gguf: no such file \(/);
    // Relative sources are relative to the manifest's folder, not the working directory.
    expect(r.skipped[0]).toContain(path.relative(process.cwd(), path.join(tmp, "missing/stories.gguf")));
  });

  it("resolveModel resolves a relative source against the manifest's folder", async () => {
    fs.copyFileSync(STORIES, path.join(tmp, "copy.gguf"));
    const r = await resolveModel(loadModelSpec(manifest("rel.yaml", "id: s\nsource: copy.gguf\n")));
    expect(r.path).toBe(path.join(tmp, "copy.gguf"));
    expect(r.sha256).toBe(STORIES_SHA256);
    expect(r.skipped).toEqual([]);
  });

  it("resolveModel of a bare .gguf path", async () => {
    const r = await resolveModel(loadModelSpec(STORIES));
    expect(r.sha256).toBe(STORIES_SHA256);
  });

  it("a manifest sha256 that does not match is model-sha256-mismatch", async () => {
    const wrong = "ab".repeat(32);
    const file = manifest("wrong.yaml", `id: stories\nsource: ${STORIES}\nsha256: ${wrong}\n`);
    const e = await rejected(resolveModel(loadModelSpec(file)));
    expect(e.code).toBe("model-sha256-mismatch");
    expect(e.field).toBe("sha256");
    expect(e.file).toBe(file);
    expect(e.message).toBe(`model "stories": ${STORIES} has sha256 ${STORIES_SHA256}, the manifest expects ${wrong}`);
  });

  it("no usable source is model-not-found, listing each source's reason", async () => {
    const file = manifest("none.yaml", "id: gone\nsources:\n  - a.gguf\n  - /definitely/not/here.gguf\n");
    const e = await rejected(resolveModel(loadModelSpec(file)));
    expect(e.code).toBe("model-not-found");
    expect(e.field).toBe("sources");
    expect(e.file).toBe(file);
    const lines = e.message.split("\n");
    expect(lines[0]).toBe('model "gone": no source could be loaded:');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^ {2}a\.gguf: no such file \(/);
    expect(lines[2]).toMatch(/^ {2}\/definitely\/not\/here\.gguf: no such file \(/);
  });

  it("fileSha256 caches by path, size and mtime in HELDOUT_CACHE_DIR", async () => {
    const first = await fileSha256(STORIES);
    const second = await fileSha256(STORIES);
    expect(first).toBe(STORIES_SHA256);
    expect(second).toBe(first);
    const entries = JSON.parse(fs.readFileSync(path.join(cache, "sha256.json"), "utf8")) as Record<string, string>;
    const st = fs.statSync(STORIES);
    expect(entries[`${STORIES}|${st.size}|${st.mtimeMs}`]).toBe(STORIES_SHA256);
  });

  it("a file changed in place gets a new hash (new size, or same size with a new mtime)", async () => {
    const file = path.join(tmp, "changing.bin");
    fs.writeFileSync(file, "hello");
    fs.utimesSync(file, new Date(1_000_000), new Date(1_000_000));
    const h1 = await fileSha256(file);
    expect(h1).toBe("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"); // sha256("hello")
    expect(await fileSha256(file)).toBe(h1);

    fs.writeFileSync(file, "hello!"); // new size
    fs.utimesSync(file, new Date(1_000_000), new Date(1_000_000));
    const h2 = await fileSha256(file);
    expect(h2).toBe("ce06092fb948d9ffac7d1a376e404b26b7575bcc11ee05a4615fef4fec3a308b"); // sha256("hello!")

    fs.writeFileSync(file, "HELLO!"); // same size, new mtime
    fs.utimesSync(file, new Date(2_000_000), new Date(2_000_000));
    const h3 = await fileSha256(file);
    expect(h3).toBe("a2f6017f1fab81333a4288f68557b74495a27337c7d37b3eba46c866aa885098"); // sha256("HELLO!")
  });

  it("an unreadable cache only costs time", async () => {
    fs.writeFileSync(path.join(cache, "sha256.json"), "{ not json");
    expect(await fileSha256(STORIES)).toBe(STORIES_SHA256);
  });
});
