import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Generation } from "../core/types.js";
import type { Backend, BatchResult, ContextSettings, GenerationRequest, LoadedModelInfo, LoadTarget, PreparedPrompt } from "./backend.js";
import { resolveThreads } from "./llama.js";
import { BUILD_TOOLS_HINT, llamaToolsDir } from "./llama-tools.js";
import { OpenAIBackend } from "./openai.js";

/**
 * `engine: llama-server`: the GGUF served by llama.cpp's own llama-server (built from the source
 * node-llama-cpp ships), one server process per model on 127.0.0.1 with the cell's threads,
 * slots and context, driven through the OpenAI-compatible backend. This is how Ollama runs
 * llama.cpp (a native runner per model); it avoids node-llama-cpp's per-token loop cost and
 * its thread handling. A cell with other context settings restarts the server.
 */
const ALIAS = "model";

export class LlamaServerEngineBackend implements Backend {
  readonly kind = "llama-server";
  private server?: ChildProcess;
  private settings = "";
  private client = new OpenAIBackend();
  private target?: LoadTarget;
  private log = "";

  async load(target: LoadTarget): Promise<LoadedModelInfo> {
    if (!target.path) throw new Error("engine llama-server serves a GGUF file: no path given");
    this.target = target;
    const started = performance.now();
    const context: ContextSettings = { threads: target.runtime.threads, contextSize: target.runtime.contextSize, flashAttention: target.runtime.flashAttention, parallel: 1 };
    const info = await this.ensureServer(context);
    return {
      loadMs: performance.now() - started,
      runtime: { engine: "llama-server", gpuLayers: target.runtime.gpuLayers },
      engine: { library: "llama-server", ...info },
      warnings: [],
    };
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

  /** llama-server's own peak RSS (VmHWM), found as the watchdog shell's child (Linux /proc). */
  externalPeakRssBytes(): number | null {
    const pid = this.server?.pid;
    if (!pid) return null;
    try {
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/);
      const status = readFileSync(`/proc/${children[0]}/status`, "utf8");
      const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      return kib ? Number(kib) * 1024 : null;
    } catch {
      return null;
    }
  }

  async unload(): Promise<void> {
    this.stop();
  }

  /** Starts (or restarts, when the cell's settings differ) the server; returns what it runs with. */
  private async ensureServer(context: ContextSettings): Promise<Record<string, unknown>> {
    const target = this.target as LoadTarget;
    const bin = llamaToolsDir();
    const exe = bin ? join(bin, "llama-server") : "";
    if (!existsSync(exe)) throw new Error(`engine llama-server needs llama.cpp's llama-server, built once with: ${BUILD_TOOLS_HINT}`);
    // The same "auto" rule as the embedded engine, applied to llama.cpp's own (OpenMP) build.
    const threads = resolveThreads(context.threads, "localBuild", (await import("node:os")).cpus().length, { GGML_OPENMP: "ON" }, false);
    const args = [
      "-m", target.path as string, "--host", "127.0.0.1", "-a", ALIAS,
      "-t", String(threads.value), "-tb", String(threads.value),
      "-np", String(context.parallel), "-c", String(context.contextSize * context.parallel),
      "-fa", context.flashAttention ? "on" : "off",
      "-ngl", target.runtime.gpuLayers === "max" ? "999" : target.runtime.gpuLayers === "auto" ? "0" : String(target.runtime.gpuLayers),
      ...(context.batchSize ? ["-b", String(context.batchSize)] : []),
      ...(context.kvCacheType ? ["-ctk", context.kvCacheType, "-ctv", context.kvCacheType] : []),
    ];
    const key = JSON.stringify(args);
    const info = { server: exe, args: args.join(" "), threads: threads.value, threadsReason: threads.reason, slots: context.parallel };
    if (this.server && this.settings === key && this.server.exitCode === null) return info;
    this.stop();
    const port = await freePort();
    // Through a small shell watchdog: if this engine host dies (even by SIGKILL), the server must
    // not outlive it; the watchdog kills it within half a second.
    const watchdog = `"$0" "$@" & s=$!; while kill -0 ${process.pid} 2>/dev/null && kill -0 $s 2>/dev/null; do sleep 0.5; done; kill -9 $s 2>/dev/null; wait $s`;
    // Its own process group, so stop() can kill the watchdog and the server together.
    const child = spawn("sh", ["-c", watchdog, exe, ...args, "--port", String(port)], { stdio: ["ignore", "ignore", "pipe"], detached: true });
    child.stderr?.on("data", (d: Buffer) => (this.log = (this.log + d.toString()).slice(-4000)));
    this.server = child;
    this.settings = key;
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`llama-server exited (${child.exitCode}): ${this.log.trim().split("\n").slice(-3).join(" | ")}`);
      const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error("llama-server did not become ready within 120 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.client.load({ backend: "openai", runtime: target.runtime, server: { endpoints: [url], model: ALIAS, api: "completions", requestTimeoutMs: 600_000, retries: 2, warmUp: true } });
    return info;
  }

  private stop(): void {
    const pid = this.server?.pid;
    if (pid && this.server?.exitCode === null) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.server = undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
