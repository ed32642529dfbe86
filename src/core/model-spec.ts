import { FieldReader, isRecord, parseConfig, Problems } from "./config-doc.js";
import { KV_CACHE_TYPES } from "./sweep.js";
import type { ModelSpec, RuntimeSettings, ServerSettings } from "./types.js";

/** Model manifests (models/*.yaml): what to load, from where, and with which runtime settings. */

export const DEFAULT_RUNTIME: RuntimeSettings = {
  threads: "auto",
  gpuLayers: "auto",
  contextSize: 2048,
  flashAttention: false,
  binary: "auto",
  gpu: "auto",
  engine: "embedded",
};

const MANIFEST_FIELDS = ["id", "backend", "sources", "source", "sha256", "runtime", "description", "server"] as const;
const SERVER_FIELDS = ["endpoints", "endpoint", "model", "api", "apiKeyEnv", "requestTimeoutMs", "concurrency", "retries", "warmUp"] as const;
const RUNTIME_FIELDS = ["threads", "gpuLayers", "contextSize", "batchSize", "flashAttention", "kvCacheType", "binary", "gpu", "engine"] as const;

export function parseModelSpec(file: string, text: string): ModelSpec {
  const problems = new Problems("invalid-model");
  const doc = parseConfig(file, text);
  if (!isRecord(doc.value)) {
    problems.add("a model manifest must be a mapping of fields (id, backend, sources, ...)", { file, line: 1 });
    problems.throwIfAny();
  }
  const r = new FieldReader(doc, doc.value as Record<string, unknown>, [], problems);
  r.rejectUnknown(MANIFEST_FIELDS);
  const id = r.string("id") ?? "";
  if (id && !/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(id)) r.fail("id", "must be letters, digits, '.', ':', '_' or '-'");
  const backend = r.oneOf("backend", ["llama", "openai", "ollama", "outputs"] as const, "llama");
  const sources = r.has("sources") ? r.stringList("sources", []) : r.has("source") ? r.stringList("source", []) : [];
  let server: ServerSettings | undefined;
  if (backend === "outputs") {
    if (sources.length !== 1) r.fail("sources", "is required: the one JSONL file of outputs ({taskId, output} per line), relative to the manifest");
    if (r.has("server")) r.fail("server", 'is for server backends; backend "outputs" reads a file from `sources`');
  } else if (backend === "llama") {
    if (sources.length === 0) r.fail("sources", "is required: a list of file paths or hf: URIs, tried in order");
    if (r.has("server")) r.fail("server", 'is for server backends (backend: openai or ollama); backend "llama" loads a file from `sources`');
  } else {
    if (sources.length > 0) r.fail(r.has("sources") ? "sources" : "source", `backend "${backend}" talks to a server: give \`server: {endpoints, model}\` instead of files`);
    server = readServer(r, backend);
  }
  let sha256: string | undefined;
  if (r.has("sha256")) {
    sha256 = r.string("sha256")?.toLowerCase();
    if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) r.fail("sha256", "must be 64 hexadecimal digits");
  }
  const rt = r.child("runtime");
  rt?.rejectUnknown(RUNTIME_FIELDS);
  const d = DEFAULT_RUNTIME;
  const runtime: RuntimeSettings = {
    threads: rt ? readAutoNumber(rt, "threads", d.threads, ["auto"]) as number | "auto" : d.threads,
    gpuLayers: rt ? readAutoNumber(rt, "gpuLayers", d.gpuLayers, ["auto", "max"]) as RuntimeSettings["gpuLayers"] : d.gpuLayers,
    contextSize: rt?.number("contextSize", d.contextSize, { min: 16, integer: true }) ?? d.contextSize,
    flashAttention: rt?.boolean("flashAttention", d.flashAttention) ?? d.flashAttention,
    binary: rt?.oneOf("binary", ["auto", "prebuilt", "source"] as const, d.binary) ?? d.binary,
    gpu: rt?.oneOf("gpu", ["auto", "cpu"] as const, d.gpu) ?? d.gpu,
    engine: rt?.oneOf("engine", ["embedded", "llama-server"] as const, d.engine) ?? d.engine,
  };
  if (rt?.has("kvCacheType")) runtime.kvCacheType = rt.oneOf("kvCacheType", KV_CACHE_TYPES, "f16");
  if (rt?.has("batchSize")) {
    const b = rt.number("batchSize", undefined, { min: 1, integer: true });
    if (b !== undefined) runtime.batchSize = b;
  }
  problems.throwIfAny();
  const spec: ModelSpec = { id, backend, sources, runtime, file };
  if (sha256) spec.sha256 = sha256;
  if (server) spec.server = server;
  return spec;
}

function readServer(r: FieldReader, backend: "openai" | "ollama"): ServerSettings | undefined {
  const s = r.child("server");
  if (!s) {
    r.fail("server", `is required for backend "${backend}": {endpoints: [http://127.0.0.1:8080], model: name}`);
    return undefined;
  }
  s.rejectUnknown(SERVER_FIELDS);
  const endpoints = (s.has("endpoints") ? s.stringList("endpoints", []) : s.has("endpoint") ? s.stringList("endpoint", []) : []).map((e) => e.replace(/\/+$/, ""));
  if (endpoints.length === 0) s.fail("endpoints", "is required: one or more base URLs, e.g. http://127.0.0.1:8080");
  for (const e of endpoints) if (!/^https?:\/\/[^/\s]+/.test(e)) s.fail("endpoints", `"${e}" is not an http(s) URL`);
  const settings: ServerSettings = {
    endpoints,
    model: s.string("model") ?? "",
    api: s.oneOf("api", ["completions", "chat"] as const, "completions"),
    requestTimeoutMs: s.number("requestTimeoutMs", 120_000, { min: 1 }) ?? 120_000,
    retries: s.number("retries", 2, { min: 0, integer: true }) ?? 2,
    warmUp: s.boolean("warmUp", true),
  };
  if (s.has("apiKeyEnv")) settings.apiKeyEnv = s.string("apiKeyEnv");
  if (s.has("concurrency")) settings.concurrency = s.number("concurrency", undefined, { min: 1, integer: true });
  return settings;
}

function readAutoNumber(r: FieldReader, key: string, fallback: number | string, words: string[]): number | string {
  const v = r.raw(key);
  if (v === undefined || v === null) return fallback;
  if (typeof v === "string" && words.includes(v)) return v;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  r.fail(key, `must be ${words.join(" or ")} or a whole number ≥ 0, got ${JSON.stringify(v)}`);
  return fallback;
}
