/**
 * An engine host: one child process that loads one model and generates what the orchestrator
 * asks for. A native crash here (segfault, CUDA abort, OOM kill) costs this process only; the
 * orchestrator records it against the cells this host was running and carries on. Its memory
 * figures are this process's own, so they belong to this model alone.
 */
import type { Backend } from "../backends/backend.js";
import { createBackend } from "../backends/index.js";
import { disposeEngines } from "../backends/llama-engine.js";
import { startMemorySampler } from "../system/memory.js";
import type { PreparedPrompt } from "../backends/backend.js";
import type { FromHost, HostResult, LoglikResult, ToHost } from "./host-protocol.js";

/** At most this long between a generation's end and its result reaching the orchestrator. */
const FLUSH_MS = 25;
let backend: Backend = createBackend("llama");
let abort = new AbortController();
let memory = startMemorySampler(() => backend.vramUsedBytes());
let results = 0;
// Test-only fault switch: abort the process (as a native crash would) after N results.
const abortAfter = process.env.HELDOUT_TEST_HOST_ABORT_AFTER ? Number(process.env.HELDOUT_TEST_HOST_ABORT_AFTER) : undefined;

function send(message: FromHost): Promise<void> {
  return new Promise((done) => {
    if (!process.send || !process.connected) return done();
    process.send(message, undefined, {}, () => done());
  });
}

async function handle(message: ToHost): Promise<void> {
  switch (message.type) {
    case "load":
      try {
        backend = createBackend(message.target.backend, message.target.runtime.engine);
        const info = await backend.load(message.target);
        await send({ type: "loaded", info, memory: await memory.stop() });
        memory = startMemorySampler(() => backend.vramUsedBytes());
      } catch (error) {
        await send({ type: "loadFailed", error: (error as Error).message });
      }
      return;
    case "generate": {
      abort = new AbortController();
      // Each batch (a cell) reports its own peak, starting from what is resident now (the model),
      // so a cell with a large context does not inflate the next cell's figure.
      await memory.stop();
      memory = startMemorySampler(() => backend.vramUsedBytes());
      const byKey = new Map(message.requests.map((r) => [r.key, r]));
      // Results go out in small batches: one message per generation costs the orchestrator (and
      // with it this machine's other core) more than the generation itself for tiny models.
      let buffer: HostResult[] = [];
      let timer: NodeJS.Timeout | undefined;
      const flush = () => {
        clearTimeout(timer);
        timer = undefined;
        if (buffer.length === 0) return Promise.resolve();
        const items = buffer;
        buffer = [];
        return send({ type: "results", batch: message.batch, items });
      };
      const prepared = await Promise.all(message.requests.map((r) => backend.preparePrompt(r.text, r.chatTemplate, r.system)));
      const requests = message.requests.map((r, i) => ({
        key: r.key,
        ...(r.taskId !== undefined ? { taskId: r.taskId, sample: r.sample ?? 0 } : {}),
        prompt: prepared[i] as PreparedPrompt,
        maxTokens: r.maxTokens,
        sampling: r.sampling,
        timeoutMs: r.timeoutMs,
        ...(r.jsonSchema ? { jsonSchema: r.jsonSchema } : {}),
      }));
      const result = await backend.generateAll(
        requests,
        message.context,
        async (request, generation) => {
          if (!byKey.has(request.key)) return;
          buffer.push({ key: request.key, prompt: request.prompt, generation });
          timer ??= setTimeout(() => void flush(), FLUSH_MS);
          if (abortAfter !== undefined && ++results >= abortAfter) {
            await flush();
            process.abort();
          }
        },
        abort.signal,
      );
      await flush();
      const batchMemory = await memory.stop();
      const external = backend.externalPeakRssBytes?.() ?? null;
      if (external !== null) batchMemory.peakRssBytes = external;
      memory = startMemorySampler(() => backend.vramUsedBytes());
      await send({ type: "batchDone", batch: message.batch, wallMs: result.wallMs, context: result.context, aborted: result.aborted, memory: batchMemory });
      return;
    }
    case "embed":
      try {
        if (!backend.embed) throw new Error(`the ${backend.kind} backend gives no embeddings`);
        await send({ type: "embedded", batch: message.batch, vectors: await backend.embed(message.texts), error: null });
      } catch (error) {
        await send({ type: "embedded", batch: message.batch, vectors: null, error: (error as Error).message });
      }
      return;
    case "loglik": {
      const results: LoglikResult[] = [];
      for (const item of message.items) {
        try {
          if (!backend.continuationLogprobs) throw new Error(`the ${backend.kind} backend gives no token probabilities`);
          results.push({ options: await backend.continuationLogprobs({ text: item.prompt, tokenIds: item.promptTokenIds }, item.continuations), error: null });
        } catch (error) {
          results.push({ options: null, error: (error as Error).message });
        }
      }
      await send({ type: "logliks", batch: message.batch, results });
      return;
    }
    case "abort":
      abort.abort();
      return;
    case "exit":
      await backend.unload().catch(() => undefined);
      await disposeEngines();
      process.exit(0);
  }
}

// Ctrl-C reaches the whole process group: the orchestrator decides what stops, not the signal.
process.on("SIGINT", () => undefined);
// If the orchestrator dies (even by SIGKILL) the channel closes: never outlive it.
process.on("disconnect", () => process.exit(0));
let queue: Promise<void> = Promise.resolve();
process.on("message", (message: ToHost) => {
  // "abort" must act at once, while a "generate" is still running; everything else in order.
  if (message.type === "abort") abort.abort();
  else queue = queue.then(() => handle(message));
});
await send({ type: "ready", pid: process.pid });
