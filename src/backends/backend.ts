import type { BackendKind, Generation, RuntimeSettings, SamplingSettings, ServerSettings } from "../core/types.js";

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
  /** A system message for an engine that applies the chat template itself (a server); else in `text`. */
  system?: string;
}

export interface GenerationRequest {
  /** The caller's key for the request, handed back with its result. */
  key: string;
  /** Which task and sample it is (the outputs backend looks its output up by them). */
  taskId?: string;
  sample?: number;
  prompt: PreparedPrompt;
  maxTokens: number;
  sampling: SamplingSettings;
  timeoutMs: number;
  /** Constrains the output to JSON of this schema where the engine can (node-llama-cpp: a grammar); else the caller parses strictly. */
  jsonSchema?: Record<string, unknown>;
}

/** Settings that take effect per context, so they change between cells without reloading the model. */
export interface ContextSettings {
  threads: number | "auto";
  contextSize: number;
  batchSize?: number;
  flashAttention: boolean;
  kvCacheType?: string;
  /** Sequences decoded together. */
  parallel: number;
}

export interface BatchResult {
  /** From the first request handed to the engine to the last generation's end. */
  wallMs: number;
  /** Context settings after resolving "auto" (threads with the reason for the count). */
  context: Record<string, unknown>;
  /** True when the signal stopped the batch: unfinished requests got no result. */
  aborted: boolean;
}

/** What was loaded and how: recorded in the run's manifest so a reader knows what produced the numbers. */
export interface LoadedModelInfo {
  loadMs: number;
  /** Settings after resolving "auto" values, with the reason for each choice. */
  runtime: Record<string, unknown>;
  engine: Record<string, unknown>;
  warnings: string[];
}

/** What to load: a GGUF file for the embedded engine, or a model on running servers. */
export interface LoadTarget {
  backend: BackendKind;
  /** The GGUF file (llama). */
  path?: string;
  runtime: RuntimeSettings;
  /** Endpoints and model name (openai, ollama). */
  server?: ServerSettings;
}

/** One continuation's log-likelihood given a prompt (the `likelihood` scorer). */
export interface ContinuationLogprob {
  /** The text scored after the prompt: the choice, with a separating space where one is needed. */
  text: string;
  /** Sum of ln p over the continuation's tokens, each given the prompt and the tokens before it. */
  logprob: number;
  tokens: number;
  /** True when the prompt's tokens are a prefix of prompt + continuation tokenized together (else the continuation was tokenized alone). */
  aligned: boolean;
}

export interface Backend {
  readonly kind: string;
  /** Loads the model (or checks the servers have it); model-level settings apply until unload. */
  load(target: LoadTarget): Promise<LoadedModelInfo>;
  /**
   * The prompt as the engine will see it; `system` goes in the chat template's system turn, else
   * before the text. Token ids are empty where the engine does not expose its tokenizer.
   */
  preparePrompt(text: string, chatTemplate: "auto" | "never" | "always", system?: string | null): Promise<PreparedPrompt>;
  /** Embedding vectors of each text (the similarity scorer); engines without embeddings leave it out. */
  embed?(texts: string[]): Promise<number[][]>;
  /**
   * The log-likelihood of each continuation after the prompt (its exact token ids, BOS included;
   * empty: tokenize `text` as a run does without a chat template). Engines without token
   * probabilities leave it out.
   */
  continuationLogprobs?(prompt: { text: string; tokenIds: number[] }, continuations: string[]): Promise<ContinuationLogprob[]>;
  /**
   * Generates every request, `context.parallel` at a time, calling `onResult` as each finishes. A
   * failed request is a Generation with `error` set, never a thrown exception. When `signal`
   * aborts, generations in flight are dropped and the call returns with `aborted`.
   */
  generateAll(
    requests: GenerationRequest[],
    context: ContextSettings,
    onResult: (request: GenerationRequest, generation: Generation) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<BatchResult>;
  /** Device memory in use now, in bytes, or null when the model runs on the CPU. */
  vramUsedBytes(): Promise<number | null>;
  /**
   * When the model lives in another process this backend started (llama-server), that process's
   * peak resident memory: it replaces the host's own figure, which would not include the model.
   */
  externalPeakRssBytes?(): number | null;
  unload(): Promise<void>;
}
