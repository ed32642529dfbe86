import type { Generation, ServerSettings } from "../core/types.js";
import type { Backend, BatchResult, ContextSettings, GenerationRequest, LoadedModelInfo, LoadTarget, PreparedPrompt } from "./backend.js";
import { dispatchToServer, probeEndpoints, RequestFailure, toFailure } from "./dispatch.js";
import { sseData } from "./sse.js";

/**
 * OpenAI-compatible servers (llama.cpp's llama-server, vLLM, LM Studio, SGLang): /v1/completions
 * (or /v1/chat/completions with `api: chat`), streamed, so time to first token is measured here
 * on the client. Every sampling parameter is sent explicitly. llama-server's extras are used when
 * present: /tokenize for the prompt's token ids, /props for what it runs, `timings` per request.
 */
export class OpenAIBackend implements Backend {
  readonly kind = "openai";
  private server?: ServerSettings;
  /** Endpoints that answered /tokenize (llama-server). */
  private tokenizer?: string;
  private tokenizing: Promise<void> = Promise.resolve();

  async load(target: LoadTarget): Promise<LoadedModelInfo> {
    const server = target.server;
    if (!server) throw new Error("the openai backend needs `server` settings");
    this.server = server;
    const started = performance.now();
    const { endpoints, warnings } = await probeEndpoints(server.endpoints, async (endpoint) => {
      const models = (await this.getJson(endpoint, "/v1/models")) as { data?: { id: string }[] };
      const ids = (models.data ?? []).map((m) => m.id);
      if (!ids.includes(server.model)) {
        throw new RequestFailure("model-not-found", `${endpoint} does not serve a model "${server.model}" (it serves: ${ids.join(", ") || "none"})`, false);
      }
      const props = await this.getJson(endpoint, "/props").catch(() => null);
      if (props && !this.tokenizer) this.tokenizer = endpoint;
      return { models: ids, props: summarizeProps(props) };
    });
    return {
      loadMs: performance.now() - started,
      runtime: { model: server.model, api: server.api, endpoints: server.endpoints, concurrency: server.concurrency ?? null },
      engine: { library: "openai-compatible", endpoints },
      warnings,
    };
  }

  // The completions API sends the text as is (no template to apply); chat lets the server apply its own.
  async preparePrompt(text: string, _chatTemplate: "auto" | "never" | "always", system: string | null = null): Promise<PreparedPrompt> {
    const server = this.requireServer();
    if (server.api === "chat") return { text, tokenIds: [], chatTemplate: "server", stopStrings: [], ...(system ? { system } : {}) };
    const full = system ? `${system}\n\n${text}` : text;
    let tokenIds: number[] = [];
    if (this.tokenizer) {
      // llama-server tokenizes as llama.cpp's tools do; recording the ids lets a reader check them.
      // One request at a time: dozens at once were seen to fail on llama-server's HTTP pool.
      const endpoint = this.tokenizer;
      const ask = () => this.postJson(endpoint, "/tokenize", { content: full, add_special: true }) as Promise<{ tokens?: number[] }>;
      const reply = this.tokenizing.then(() => ask().catch(() => ask()).catch(() => null));
      this.tokenizing = reply.then(() => undefined);
      tokenIds = (await reply)?.tokens ?? [];
    }
    return { text: full, tokenIds, chatTemplate: null, stopStrings: [] };
  }

  async generateAll(
    requests: GenerationRequest[],
    context: ContextSettings,
    onResult: (r: GenerationRequest, g: Generation) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<BatchResult> {
    const server = this.requireServer();
    const { concurrency, ...result } = await dispatchToServer(server, requests, context.parallel, (r, endpoint, s) => this.generate(r, endpoint, s), onResult, signal);
    return { ...result, context: { concurrencyPerEndpoint: concurrency, endpoints: server.endpoints.length } };
  }

  private async generate(request: GenerationRequest, endpoint: string, outer: AbortSignal): Promise<Generation> {
    const server = this.requireServer();
    const s = request.sampling;
    const common = {
      model: server.model,
      max_tokens: request.maxTokens,
      temperature: s.temperature,
      top_p: s.topP,
      // 0 means "off" in heldout; llama-server reads any top_k ≤ 0 as off, vLLM wants −1.
      top_k: s.topK === 0 ? -1 : s.topK,
      min_p: s.minP,
      repeat_penalty: s.repeatPenalty,
      // vLLM and SGLang name it so (and ignore unknown fields): send both spellings.
      repetition_penalty: s.repeatPenalty,
      repeat_last_n: s.repeatLastN,
      seed: s.seed,
      stop: [...s.stop, ...request.prompt.stopStrings],
      stream: true,
      stream_options: { include_usage: true },
    };
    const chat = server.api === "chat";
    const messages = [...(request.prompt.system ? [{ role: "system", content: request.prompt.system }] : []), { role: "user", content: request.prompt.text }];
    // llama-server (found by its /tokenize) returns each token's log-probability on request: the
    // completions API takes a count, the chat API a flag. Other servers are not asked.
    const logprobs = this.tokenizer ? (chat ? { logprobs: true, top_logprobs: 1 } : { logprobs: 1 }) : {};
    const body = chat ? { ...common, ...logprobs, messages } : { ...common, ...logprobs, prompt: request.prompt.text };
    const timeout = AbortSignal.timeout(Math.min(server.requestTimeoutMs, request.timeoutMs));
    const signal = AbortSignal.any([outer, timeout]);
    const startMs = performance.now();
    let firstTokenMs: number | undefined;
    let lastTokenMs: number | undefined;
    let text = "";
    let chunks = 0;
    const tokenLogprobs: number[] = [];
    let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
    let finish: string | undefined;
    let timings: Record<string, number> | undefined;
    let done = false;
    try {
      const response = await fetch(`${endpoint}${chat ? "/v1/chat/completions" : "/v1/completions"}`, { method: "POST", headers: this.headers(), body: JSON.stringify(body), signal });
      if (!response.ok || !response.body) throw await httpFailure(endpoint, response);
      for await (const data of sseData(response.body)) {
        if (data === "[DONE]") {
          done = true;
          break;
        }
        let event: StreamEvent;
        try {
          event = JSON.parse(data) as StreamEvent;
        } catch {
          throw new RequestFailure("stream", `malformed event in the stream: ${data.slice(0, 80)}`, true);
        }
        if (event.error) throw new RequestFailure("http-5xx", `error in the stream: ${JSON.stringify(event.error).slice(0, 200)}`, true);
        const choice = event.choices?.[0];
        const piece = chat ? (choice?.delta?.content ?? "") : (choice?.text ?? "");
        if (piece) {
          const now = performance.now();
          firstTokenMs ??= now;
          lastTokenMs = now;
          text += piece;
          chunks++;
        }
        for (const item of choice?.logprobs?.content ?? []) if (typeof item.logprob === "number") tokenLogprobs.push(item.logprob);
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (event.usage) usage = event.usage;
        if (event.timings) timings = event.timings;
      }
    } catch (error) {
      throw toFailure(error, timeout.aborted && !outer.aborted);
    }
    if (!done) throw new RequestFailure("stream", "the stream ended before [DONE] (truncated)", true);
    const endMs = performance.now();
    const finishReason = finish === "length" ? "maxTokens" : request.sampling.stop.length > 0 || request.prompt.stopStrings.length > 0 ? "stop" : "eos";
    // The server's count when it gives one; else one token per streamed piece (llama-server streams
    // token by token). llama-server's count (usage and timings.predicted_n alike) includes the
    // end-of-sequence token it sampled, which streams no text; heldout counts output tokens only
    // (as the embedded engine does), and its tok/s spans the streamed tokens, so it is taken off.
    const counted = usage?.completion_tokens ?? timings?.predicted_n;
    const eosCounted = timings !== undefined && finishReason === "eos" && counted !== undefined && counted > 0 ? 1 : 0;
    const generation: Generation = {
      text,
      promptTokenIds: request.prompt.tokenIds,
      completionTokens: counted !== undefined ? counted - eosCounted : chunks,
      timings: { startMs, firstTokenMs, lastTokenMs, endMs },
      finishReason,
    };
    const promptTokens = usage?.prompt_tokens ?? timings?.prompt_n;
    if (request.prompt.tokenIds.length === 0 && promptTokens !== undefined) generation.promptTokens = promptTokens;
    if (timings) generation.serverTimings = pickNumbers(timings);
    // One per output token (end-of-sequence, which streams no text, is not among them).
    if (tokenLogprobs.length > 0) generation.tokenLogprobs = tokenLogprobs.slice(0, generation.completionTokens || tokenLogprobs.length);
    return generation;
  }

  async vramUsedBytes(): Promise<number | null> {
    return null;
  }

  async unload(): Promise<void> {
    this.server = undefined;
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    const env = this.server?.apiKeyEnv;
    if (env && process.env[env]) headers.authorization = `Bearer ${process.env[env]}`;
    return headers;
  }

  private async getJson(endpoint: string, path: string): Promise<unknown> {
    const response = await fetch(`${endpoint}${path}`, { headers: this.headers(), signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw await httpFailure(endpoint, response);
    return response.json();
  }

  private async postJson(endpoint: string, path: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${endpoint}${path}`, { method: "POST", headers: this.headers(), body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw await httpFailure(endpoint, response);
    return response.json();
  }

  private requireServer(): ServerSettings {
    if (!this.server) throw new Error("OpenAIBackend: load() first");
    return this.server;
  }
}

interface StreamEvent {
  choices?: { text?: string; delta?: { content?: string }; finish_reason?: string | null; logprobs?: { content?: { logprob?: number }[] } | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  timings?: Record<string, number>;
  error?: unknown;
}

export async function httpFailure(endpoint: string, response: Response): Promise<RequestFailure> {
  const detail = (await response.text().catch(() => "")).slice(0, 300);
  const status = response.status;
  if (status === 404 && /model/i.test(detail)) return new RequestFailure("model-not-found", `${endpoint}: HTTP 404: ${detail}`, false);
  // 408/429 and 5xx are worth another try; other 4xx are the request's own fault.
  const retryable = status >= 500 || status === 408 || status === 429;
  return new RequestFailure(status >= 500 ? "http-5xx" : "http-4xx", `HTTP ${status}${detail ? `: ${detail}` : ""}`, retryable);
}

function summarizeProps(props: unknown): Record<string, unknown> | null {
  if (!props || typeof props !== "object") return null;
  const p = props as Record<string, unknown>;
  const keep = ["model_path", "total_slots", "build_info", "n_ctx", "chat_template"];
  const out: Record<string, unknown> = {};
  for (const k of keep) if (k in p) out[k] = k === "chat_template" ? Boolean(p[k]) : p[k];
  const settings = (p.default_generation_settings as Record<string, unknown> | undefined) ?? {};
  if ("n_ctx" in settings) out.n_ctx = settings.n_ctx;
  return out;
}

function pickNumbers(o: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === "number") out[k] = v;
  return out;
}
