import { cpus } from "node:os";
import type { Generation } from "../core/types.js";
import type { Backend, BatchResult, ContextSettings, GenerationRequest, LoadedModelInfo, LoadTarget, PreparedPrompt } from "./backend.js";
import { resolveThreads } from "./llama.js";
import { startLlamaServerProcess, type LlamaServerProcess } from "./llama-server-process.js";
import { OpenAIBackend } from "./openai.js";

/**
 * `engine: llama-server`: the GGUF served by llama.cpp's own llama-server, one server process per
 * model with the cell's threads, slots and context, driven through the OpenAI-compatible backend.
 * This is how Ollama runs llama.cpp (a native runner per model); it avoids node-llama-cpp's
 * per-token loop cost and its thread handling. A cell with other context settings restarts it.
 */
const ALIAS = "model";

export class LlamaServerEngineBackend implements Backend {
  readonly kind = "llama-server";
  private server?: LlamaServerProcess;
  private settings = "";
  private client = new OpenAIBackend();
  private target?: LoadTarget;

  async load(target: LoadTarget): Promise<LoadedModelInfo> {
    if (!target.path) throw new Error("engine llama-server serves a GGUF file: no path given");
    this.target = target;
    const started = performance.now();
    const info = await this.ensureServer({ threads: target.runtime.threads, contextSize: target.runtime.contextSize, flashAttention: target.runtime.flashAttention, parallel: 1 });
    return { loadMs: performance.now() - started, runtime: { engine: "llama-server", gpuLayers: target.runtime.gpuLayers }, engine: { library: "llama-server", ...info }, warnings: [] };
  }

  preparePrompt(text: string, _chatTemplate: "auto" | "never" | "always", system: string | null = null): Promise<PreparedPrompt> {
    // The completions API takes the text as is; llama-server tokenizes it as llama.cpp's tools do.
    return this.client.preparePrompt(text, "never", system);
  }

  async generateAll(requests: GenerationRequest[], context: ContextSettings, onResult: (r: GenerationRequest, g: Generation) => Promise<void> | void, signal?: AbortSignal): Promise<BatchResult> {
    const info = await this.ensureServer(context);
    const result = await this.client.generateAll(requests, context, onResult, signal);
    return { ...result, context: { ...result.context, ...info } };
  }

  async vramUsedBytes(): Promise<number | null> {
    return null;
  }

  externalPeakRssBytes(): number | null {
    return this.server?.peakRssBytes() ?? null;
  }

  async unload(): Promise<void> {
    this.server?.stop();
    this.server = undefined;
  }

  private async ensureServer(context: ContextSettings): Promise<Record<string, unknown>> {
    const target = this.target as LoadTarget;
    // The same "auto" rule as the embedded engine, applied to llama.cpp's own (OpenMP) build.
    const threads = resolveThreads(context.threads, "localBuild", cpus().length, { GGML_OPENMP: "ON" }, false);
    const settings = {
      modelPath: target.path as string,
      threads: threads.value,
      slots: context.parallel,
      contextSize: context.contextSize * context.parallel,
      flashAttention: context.flashAttention,
      gpuLayers: target.runtime.gpuLayers,
      alias: ALIAS,
      ...(context.batchSize ? { batchSize: context.batchSize } : {}),
      ...(context.kvCacheType ? { kvCacheType: context.kvCacheType } : {}),
    };
    const key = JSON.stringify(settings);
    if (!this.server || this.settings !== key) {
      this.server?.stop();
      this.server = await startLlamaServerProcess(settings);
      this.settings = key;
      await this.client.load({ backend: "openai", runtime: target.runtime, server: { endpoints: [this.server.url], model: ALIAS, api: "completions", requestTimeoutMs: 600_000, retries: 2, warmUp: true } });
    }
    return { server: "llama-server", args: this.server.args.join(" "), threads: threads.value, threadsReason: threads.reason, slots: context.parallel };
  }
}
