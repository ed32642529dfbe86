import type { Generation, RuntimeSettings, SamplingSettings } from "../core/types.js";

/**
 * The one shim every engine sits behind: load, prepare a prompt the way the engine's own tools
 * would, generate a batch of requests, report what it is, unload. Kept small on purpose (the
 * lm-evaluation-harness lesson): everything else is the runner's job.
 */

export interface PreparedPrompt {
  /** The text the engine sees (the suite's prompt, wrapped in the chat template if one was applied). */
  text: string;
  /** The exact token ids fed to the model, BOS included. */
  tokenIds: number[];
  chatTemplate: string | null;
  /** Stop strings the chat template needs in addition to the profile's. */
  stopStrings: string[];
}

export interface GenerationRequest {
  /** The caller's key for the request, handed back with its result. */
  key: string;
  prompt: PreparedPrompt;
  maxTokens: number;
  sampling: SamplingSettings;
  timeoutMs: number;
}

export interface BatchResult {
  /** From the first request handed to the engine to the last generation's end. */
  wallMs: number;
}

/** What was loaded and how: recorded in the run's manifest so a reader knows what produced the numbers. */
export interface LoadedModelInfo {
  loadMs: number;
  /** Settings after resolving "auto" values, with the reason for each choice. */
  runtime: Record<string, unknown>;
  engine: Record<string, unknown>;
  warnings: string[];
}

export interface Backend {
  readonly kind: string;
  load(modelPath: string, runtime: RuntimeSettings): Promise<LoadedModelInfo>;
  preparePrompt(text: string, chatTemplate: "auto" | "never" | "always"): PreparedPrompt;
  /**
   * Generates every request, `parallel` at a time, calling `onResult` as each finishes. A failed
   * request is a Generation with `error` set, never a thrown exception.
   */
  generateAll(requests: GenerationRequest[], parallel: number, onResult: (request: GenerationRequest, generation: Generation) => Promise<void> | void): Promise<BatchResult>;
  /** Device memory in use now, in bytes, or null when the model runs on the CPU. */
  vramUsedBytes(): Promise<number | null>;
  unload(): Promise<void>;
}
