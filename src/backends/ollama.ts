import { Ollama, type GenerateResponse, type ModelResponse, type Options } from "ollama";
import type { Generation, ServerSettings } from "../core/types.js";
import type { Backend, BatchResult, ContextSettings, GenerationRequest, LoadedModelInfo, LoadTarget, PreparedPrompt } from "./backend.js";
import { dispatchToServer, probeEndpoints, RequestFailure, toFailure } from "./dispatch.js";

/**
 * Ollama servers through the `ollama` package (REST API of Ollama docs/api.md, v0.6–v0.12):
 * /api/show and /api/tags at load for what each endpoint serves (details, digest), /api/generate
 * streamed per request so time to first token is measured here on the client. Every sampling
 * parameter is sent in `options`, so none is left to the Modelfile's or Ollama's defaults.
 */

/** How long the model stays loaded after a request: long enough to span a cell's gaps. */
const KEEP_ALIVE = "30m";
/** Load-time queries (show, tags, version, ps) are small: a server that is slow to answer them is down. */
const QUERY_TIMEOUT_MS = 10_000;
/** /api/ps is polled by the memory sampler every 50 ms; asking a server that often would load it. */
const VRAM_REFRESH_MS = 1_000;

export class OllamaBackend implements Backend {
  readonly kind = "ollama";
  private server?: ServerSettings;
  /** The manifest's gpuLayers when it is a number: the only value Ollama's num_gpu can take as is. */
  private gpuLayers?: number;
  private vram: { at: number; bytes: number | null } | undefined;

  async load(target: LoadTarget): Promise<LoadedModelInfo> {
    const server = target.server;
    if (!server) throw new Error("the ollama backend needs `server` settings");
    this.server = server;
    this.gpuLayers = typeof target.runtime.gpuLayers === "number" ? target.runtime.gpuLayers : undefined;
    const started = performance.now();
    const { endpoints, warnings } = await probeEndpoints(server.endpoints, async (endpoint) => {
      const client = this.client(endpoint, AbortSignal.timeout(QUERY_TIMEOUT_MS));
      const shown = await client.show({ model: server.model }).catch((error: unknown) => {
        const failure = toFailure(error, false);
        if (failure.kind !== "model-not-found") throw failure;
        throw new RequestFailure("model-not-found", `${endpoint} does not have the model "${server.model}" (${failure.message}); pull it with \`ollama pull ${server.model}\``, false);
      });
      const listed = await client.list();
      const entry = listed.models.find((m) => sameModel(m, server.model));
      // The version is only informative: an older server without /api/version still serves.
      const version = await client.version().then((v) => v.version, () => null);
      return {
        version,
        model: entry?.name ?? server.model,
        // The manifest digest: Ollama's counterpart of a GGUF file's sha256.
        digest: entry?.digest ?? null,
        sizeBytes: entry?.size ?? null,
        details: shown.details ?? entry?.details ?? null,
        hasTemplate: Boolean(shown.template),
      };
    });
    const digests = new Set(endpoints.filter((e) => typeof e.digest === "string").map((e) => e.digest));
    if (digests.size > 1) warnings.push(`the endpoints serve different builds of "${server.model}" (digests ${[...digests].join(", ")}): results mix them`);
    return {
      loadMs: performance.now() - started,
      runtime: {
        model: server.model,
        endpoints: server.endpoints,
        concurrency: server.concurrency ?? null,
        keepAlive: KEEP_ALIVE,
        numGpu: this.gpuLayers ?? null,
        numGpuReason: this.gpuLayers === undefined ? `gpuLayers ${String(target.runtime.gpuLayers)}: left to Ollama's own placement` : "gpuLayers from the manifest",
      },
      engine: { library: "ollama", endpoints },
      warnings,
    };
  }

  async preparePrompt(text: string, chatTemplate: "auto" | "never" | "always", system: string | null = null): Promise<PreparedPrompt> {
    let prepared: PreparedPrompt;
    if (chatTemplate === "never") {
      // raw: Ollama sends the text as is, with no template, so the system text goes before it.
      prepared = { text: system ? `${system}\n\n${text}` : text, tokenIds: [], chatTemplate: null, stopStrings: [] };
    } else {
      // Ollama applies the model's own template (and its stop tokens) on the server side.
      prepared = { text, tokenIds: [], chatTemplate: "ollama", stopStrings: [], ...(system ? { system } : {}) };
    }
    return prepared;
  }

  async generateAll(
    requests: GenerationRequest[],
    context: ContextSettings,
    onResult: (r: GenerationRequest, g: Generation) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<BatchResult> {
    const server = this.requireServer();
    const { concurrency, ...result } = await dispatchToServer(server, requests, context.parallel, (r, endpoint, s) => this.generate(r, context, endpoint, s), onResult, signal);
    return {
      ...result,
      context: {
        concurrencyPerEndpoint: concurrency,
        endpoints: server.endpoints.length,
        num_ctx: context.contextSize,
        num_thread: typeof context.threads === "number" ? context.threads : null,
        threadsReason: typeof context.threads === "number" ? "from the settings" : "auto: left to Ollama, which picks the physical core count",
      },
    };
  }

  private async generate(request: GenerationRequest, context: ContextSettings, endpoint: string, outer: AbortSignal): Promise<Generation> {
    const server = this.requireServer();
    const s = request.sampling;
    const stops = [...s.stop, ...request.prompt.stopStrings];
    const options: Partial<Options> = {
      temperature: s.temperature,
      top_p: s.topP,
      top_k: s.topK,
      min_p: s.minP,
      repeat_penalty: s.repeatPenalty,
      repeat_last_n: s.repeatLastN,
      seed: s.seed,
      num_predict: request.maxTokens,
      stop: stops,
      num_ctx: context.contextSize,
    };
    if (typeof context.threads === "number") options.num_thread = context.threads;
    if (this.gpuLayers !== undefined) options.num_gpu = this.gpuLayers;
    // No chat template recorded: the text goes as is (raw); otherwise Ollama applies the model's own.
    const delivery = { raw: request.prompt.chatTemplate === null, system: request.prompt.system };
    const timeout = AbortSignal.timeout(Math.min(server.requestTimeoutMs, request.timeoutMs));
    const signal = AbortSignal.any([outer, timeout]);
    const client = this.client(endpoint, signal);
    const startMs = performance.now();
    let firstTokenMs: number | undefined;
    let lastTokenMs: number | undefined;
    let text = "";
    let chunks = 0;
    let final: GenerateResponse | undefined;
    try {
      const stream = await client.generate({
        model: server.model,
        prompt: request.prompt.text,
        raw: delivery.raw,
        ...(delivery.system !== undefined ? { system: delivery.system } : {}),
        stream: true,
        keep_alive: KEEP_ALIVE,
        options,
      });
      try {
        for await (const part of stream) {
          const piece = part.response ?? "";
          if (piece) {
            const now = performance.now();
            firstTokenMs ??= now;
            lastTokenMs = now;
            text += piece;
            chunks++;
          }
          if (part.done) {
            final = part;
            break;
          }
        }
      } finally {
        // Frees the connection when the loop left early (an error, an abort); harmless after the end.
        stream.abort();
      }
    } catch (error) {
      throw toFailure(error, timeout.aborted && !outer.aborted);
    }
    if (!final) throw new RequestFailure("stream", "the stream ended without its final (done) object (truncated)", true);
    const endMs = performance.now();
    const generation: Generation = {
      text,
      promptTokenIds: request.prompt.tokenIds,
      // Ollama's own count; else one token per streamed piece (Ollama streams token by token).
      completionTokens: typeof final.eval_count === "number" ? final.eval_count : chunks,
      timings: { startMs, firstTokenMs, lastTokenMs, endMs },
      finishReason: final.done_reason === "length" ? "maxTokens" : stops.length > 0 ? "stop" : "eos",
    };
    if (typeof final.prompt_eval_count === "number") generation.promptTokens = final.prompt_eval_count;
    generation.serverTimings = serverTimings(final);
    return generation;
  }

  async vramUsedBytes(): Promise<number | null> {
    const server = this.server;
    if (!server) return null;
    if (this.vram && performance.now() - this.vram.at < VRAM_REFRESH_MS) return this.vram.bytes;
    // Marked before asking, so the sampler's next calls reuse the old figure while the answer is pending.
    this.vram = { at: performance.now(), bytes: this.vram?.bytes ?? null };
    let total = 0;
    for (const endpoint of server.endpoints) {
      const running = await this.client(endpoint, AbortSignal.timeout(QUERY_TIMEOUT_MS)).ps().catch(() => null);
      for (const m of running?.models ?? []) if (sameModel(m, server.model)) total += m.size_vram ?? 0;
    }
    // Zero bytes on the device means Ollama runs the model on the CPU.
    this.vram = { at: performance.now(), bytes: total > 0 ? total : null };
    return this.vram.bytes;
  }

  async unload(): Promise<void> {
    // The model stays with the server (keep_alive lets it expire): other clients may be using it.
    this.server = undefined;
    this.vram = undefined;
  }

  /** A client whose requests stop with `signal` and whose failures arrive already classified. */
  private client(endpoint: string, signal: AbortSignal): Ollama {
    return new Ollama({ host: endpoint, fetch: guardedFetch(endpoint, signal) });
  }

  private requireServer(): ServerSettings {
    if (!this.server) throw new Error("OllamaBackend: load() first");
    return this.server;
  }
}

/** Ollama adds ":latest" to a name without a tag. */
function sameModel(m: Pick<ModelResponse, "name" | "model">, wanted: string): boolean {
  const full = wanted.includes(":") ? wanted : `${wanted}:latest`;
  return [m.name, m.model].some((n) => n === wanted || n === full);
}

/** Ollama's durations are in nanoseconds; the records keep milliseconds, under Ollama's names. */
function serverTimings(final: GenerateResponse): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ["load_duration", "prompt_eval_duration", "eval_duration", "total_duration"] as const) {
    if (typeof final[k] === "number") out[k] = final[k] / 1e6;
  }
  for (const k of ["prompt_eval_count", "eval_count"] as const) if (typeof final[k] === "number") out[k] = final[k];
  return out;
}

/**
 * fetch for the `ollama` client. The package would log and skip a malformed line, report an HTTP
 * error as a bare Error and take `{error}` in the stream for a plain failure: here each becomes a
 * RequestFailure of the right kind, so dispatch knows whether to try again.
 */
export function guardedFetch(endpoint: string, signal: AbortSignal): typeof fetch {
  return async (input, init) => {
    const signals = init?.signal ? [init.signal, signal] : [signal];
    const response = await fetch(input, { ...init, signal: AbortSignal.any(signals) });
    if (!response.ok) throw await ollamaHttpFailure(endpoint, response);
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!response.body || !/\/api\/generate$/.test(url)) return response;
    return new Response(response.body.pipeThrough(ndjsonGuard(endpoint)), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

export async function ollamaHttpFailure(endpoint: string, response: Response): Promise<RequestFailure> {
  const body = (await response.text().catch(() => "")).slice(0, 300);
  // Ollama answers errors as {"error": "..."}; keep the message, not the JSON around it.
  let detail = body;
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string") detail = parsed.error;
  } catch {
    // Not JSON (a proxy's page): the text is the detail.
  }
  const status = response.status;
  if (status === 404 && /not found/i.test(detail)) return new RequestFailure("model-not-found", `${endpoint}: HTTP 404: ${detail}`, false);
  // 408/429 and 5xx are worth another try; other 4xx are the request's own fault.
  const retryable = status >= 500 || status === 408 || status === 429;
  return new RequestFailure(status >= 500 ? "http-5xx" : "http-4xx", `${endpoint}: HTTP ${status}${detail ? `: ${detail}` : ""}`, retryable);
}

/**
 * Passes the NDJSON body through unchanged while checking each line: malformed JSON and an
 * `{error}` object fail the stream at once, and a body that ends without a `done: true` object is
 * reported as truncated rather than left to the package's generic error.
 */
function ndjsonGuard(endpoint: string): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let buffer = "";
  let done = false;
  const check = (line: string): RequestFailure | undefined => {
    if (!line.trim()) return undefined;
    let value: { done?: unknown; error?: unknown };
    try {
      value = JSON.parse(line) as { done?: unknown; error?: unknown };
    } catch {
      return new RequestFailure("stream", `${endpoint}: malformed line in the stream: ${line.slice(0, 80)}`, true);
    }
    // Ollama reports a failure after the headers (a runner crash, out of memory) as {"error": ...}.
    if (value.error !== undefined) return new RequestFailure("http-5xx", `${endpoint}: error in the stream: ${String(value.error).slice(0, 200)}`, true);
    if (value.done === true) done = true;
    return undefined;
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf("\n")) >= 0) {
        const failure = check(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 1);
        if (failure) return controller.error(failure);
      }
      controller.enqueue(chunk);
    },
    flush(controller) {
      const failure = check(buffer + decoder.decode());
      if (failure) return controller.error(failure);
      if (!done) controller.error(new RequestFailure("stream", `${endpoint}: the stream ended without its final (done) object (truncated)`, true));
    },
  });
}
