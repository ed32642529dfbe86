import type { ContextSettings, ContinuationLogprob, LoadedModelInfo, LoadTarget, PreparedPrompt } from "../backends/backend.js";
import type { Generation, SamplingSettings } from "../core/types.js";

/**
 * Messages between the orchestrator and an engine host (one child process per loaded model).
 * Plain JSON over Node's IPC channel.
 */

export interface HostRequest {
  key: string;
  taskId?: string;
  sample?: number;
  /** The prompt text before any chat template. */
  text: string;
  system: string | null;
  chatTemplate: "auto" | "never" | "always";
  maxTokens: number;
  sampling: SamplingSettings;
  timeoutMs: number;
  jsonSchema?: Record<string, unknown>;
}

export type ToHost =
  | { type: "load"; target: LoadTarget }
  | { type: "generate"; batch: number; requests: HostRequest[]; context: ContextSettings }
  | { type: "embed"; batch: number; texts: string[] }
  | { type: "loglik"; batch: number; items: LoglikItem[] }
  | { type: "abort" }
  | { type: "exit" };

/** A prompt as the engine saw it (its token ids when recorded) and the continuations to score after it. */
export interface LoglikItem {
  prompt: string;
  promptTokenIds: number[];
  continuations: string[];
}

/** Per item: each continuation's log-likelihood, or why none could be had. */
export type LoglikResult = { options: ContinuationLogprob[]; error: null } | { options: null; error: string };

export interface HostResult {
  key: string;
  prompt: PreparedPrompt;
  generation: Generation;
}

export interface MemoryPeak {
  peakRssBytes: number;
  peakVramBytes: number | null;
}

export type FromHost =
  | { type: "ready"; pid: number }
  | { type: "loaded"; info: LoadedModelInfo; memory: MemoryPeak }
  | { type: "loadFailed"; error: string }
  | { type: "results"; batch: number; items: HostResult[] }
  | { type: "batchDone"; batch: number; wallMs: number; context: Record<string, unknown>; aborted: boolean; memory: MemoryPeak }
  | { type: "embedded"; batch: number; vectors: number[][] | null; error: string | null }
  | { type: "logliks"; batch: number; results: LoglikResult[] };
