import { readFileSync } from "node:fs";
import { outputKey, parseOutputsFile, type ExternalOutput } from "../core/outputs-file.js";
import type { Generation } from "../core/types.js";
import type { Backend, BatchResult, ContextSettings, GenerationRequest, LoadedModelInfo, LoadTarget, PreparedPrompt } from "./backend.js";

/**
 * `backend: outputs`: generations produced elsewhere (an API model, a coding agent, people), read
 * from a JSONL file keyed by task id, so they are scored, summarised and compared in the same
 * tables as local models. Nothing is generated and nothing is timed: every timing figure of these
 * records is absent (null), never a made-up zero.
 */
export class OutputsBackend implements Backend {
  readonly kind = "outputs";
  private outputs = new Map<string, ExternalOutput>();
  private file = "";

  async load(target: LoadTarget): Promise<LoadedModelInfo> {
    if (!target.path) throw new Error("the outputs backend reads a JSONL file: no path given");
    this.file = target.path;
    this.outputs = parseOutputsFile(target.path, readFileSync(target.path, "utf8"));
    return { loadMs: 0, runtime: {}, engine: { library: "outputs", file: target.path, outputs: this.outputs.size, timings: "absent: outputs read from a file" }, warnings: [] };
  }

  async preparePrompt(text: string, _chatTemplate: "auto" | "never" | "always", system: string | null = null): Promise<PreparedPrompt> {
    return { text: system ? `${system}\n\n${text}` : text, tokenIds: [], chatTemplate: null, stopStrings: [] };
  }

  async generateAll(requests: GenerationRequest[], _settings: ContextSettings, onResult: (r: GenerationRequest, g: Generation) => Promise<void> | void): Promise<BatchResult> {
    for (const r of requests) {
      const found = r.taskId === undefined ? undefined : this.outputs.get(outputKey(r.taskId, r.sample ?? 0));
      const now = performance.now();
      const generation: Generation = found
        ? { text: found.output, promptTokenIds: [], completionTokens: found.completionTokens ?? 0, timings: { startMs: now, endMs: now }, finishReason: "eos", untimed: true, ...(found.promptTokens !== null ? { promptTokens: found.promptTokens } : {}) }
        : { text: "", promptTokenIds: [], completionTokens: 0, timings: { startMs: now, endMs: now }, finishReason: "error", error: `no output for task "${r.taskId}" sample ${r.sample ?? 0} in ${this.file}`, errorKind: "missing-output", untimed: true };
      await onResult(r, generation);
    }
    return { wallMs: 0, context: { timings: "absent" }, aborted: false };
  }

  async vramUsedBytes(): Promise<number | null> {
    return null;
  }

  async unload(): Promise<void> {
    this.outputs.clear();
  }
}
