/**
 * Plain data shared by the core, the backends and the stores. Nothing here does I/O.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A scorer as written in a suite or a task: `{type: "numeric", tolerance: 0.01}`. */
export interface ScorerSpec {
  type: string;
  [option: string]: JsonValue | undefined;
}

export interface Task {
  id: string;
  /** Values substituted into the prompt template's `{{var}}` placeholders. */
  vars: Record<string, string>;
  expected?: JsonValue;
  area?: string;
  tags?: string[];
  scorer?: ScorerSpec;
  /** 1-based line in tasks.jsonl, kept for error messages. */
  line: number;
}

export interface SuiteDefinition {
  name: string;
  description: string;
  promptTemplate: string;
  scorer: ScorerSpec;
  maxTokens: number;
  /** Apply the model's chat template: "auto" does so only when the model has one. */
  chatTemplate: "auto" | "never" | "always";
  /** Named rubrics: weighted criteria, each a scorer (core/rubric.ts). */
  rubrics?: import("./rubric.js").Rubric[];
  /** Regular expressions (case-insensitive) of answers that abstain ("I don't know"); unset: the built-in list. */
  abstain?: string[];
}

export interface Suite extends SuiteDefinition {
  dir: string;
  /** sha256 of the normalised suite definition and tasks (see core/suite-hash.ts). */
  hash: string;
  tasks: Task[];
}

export interface SamplingSettings {
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  repeatPenalty: number;
  /** How many of the last tokens the repeat penalty looks at. */
  repeatLastN: number;
  seed: number;
  /** Overrides the suite's maxTokens when set. */
  maxTokens?: number;
  stop: string[];
}

export interface Profile {
  name: string;
  file?: string;
  sampling: SamplingSettings;
  /** Generations per task. */
  samples: number;
  /** Sequences decoded together in one context. */
  parallel: number;
  /** Per-generation wall-clock limit; a generation that passes it is recorded as a timeout. */
  timeoutMs: number;
}

export interface RuntimeSettings {
  /** "auto" resolves to the fastest known count for the binary in use (recorded in the manifest). */
  threads: number | "auto";
  gpuLayers: number | "auto" | "max";
  /** Per sequence. */
  contextSize: number;
  batchSize?: number;
  flashAttention: boolean;
  /** KV cache element type (f16, q8_0, ...), for keys and values; unset = the engine's default (f16). */
  kvCacheType?: string;
  /**
   * Which engine runs a GGUF: node-llama-cpp in the engine host ("embedded"), or llama.cpp's own
   * llama-server as a child process of the host ("llama-server"), as Ollama runs llama.cpp.
   */
  engine: "embedded" | "llama-server";
  /** Which node-llama-cpp binary: the prebuilt one, or one built from the bundled source with OpenMP. */
  binary: "auto" | "prebuilt" | "source";
  gpu: "auto" | "cpu";
}

/** `outputs`: generations made elsewhere, read from a JSONL file (nothing is generated or timed). */
export type BackendKind = "llama" | "openai" | "ollama" | "outputs";

/** A model served by a running engine (llama-server, vLLM, Ollama...), on one or more hosts. */
export interface ServerSettings {
  /** Base URLs of servers that all serve the same model; generations are spread over them. */
  endpoints: string[];
  /** The model's name on the server. */
  model: string;
  /** OpenAI-compatible servers: the completions API (plain text) or chat completions. */
  api: "completions" | "chat";
  /** Name of the environment variable holding the API key (never the key itself). */
  apiKeyEnv?: string;
  /** Per request; a request past it is retried or recorded as a timeout. */
  requestTimeoutMs: number;
  /** Requests in flight per endpoint; unset = the profile's `parallel`. */
  concurrency?: number;
  /** Attempts after the first, on another endpoint where there is one, with backoff. */
  retries: number;
  /** One untimed short request per endpoint before each cell (a lazily loaded model). Default true. */
  warmUp: boolean;
}

export interface ModelSpec {
  id: string;
  backend: BackendKind;
  /** llama: tried in order, a file path (relative to the manifest) or an `hf:` URI. Empty for servers. */
  sources: string[];
  server?: ServerSettings;
  sha256?: string;
  runtime: RuntimeSettings;
  file?: string;
}

export type FinishReason = "eos" | "maxTokens" | "stop" | "timeout" | "error";

export interface Timings {
  /** Milliseconds on the process's monotonic clock. */
  startMs: number;
  firstTokenMs?: number;
  /** When the last output token was sampled (before the end-of-generation step, if any). */
  lastTokenMs?: number;
  endMs: number;
}

export interface Generation {
  text: string;
  promptTokenIds: number[];
  completionTokens: number;
  timings: Timings;
  finishReason: FinishReason;
  /** Set when the generation failed; a failure is data, never an exception that stops the run. */
  error?: string;
  /** What kind of failure: connection, timeout, http-4xx, http-5xx, stream, model-not-found, engine. */
  errorKind?: string;
  /** Prompt tokens when the ids are unknown (a server that reports only a count). */
  promptTokens?: number;
  /** The server that produced it (server backends). */
  endpoint?: string;
  /** Requests made for it: 1, or more after retries. */
  attempts?: number;
  /** The server's own timings for it (llama-server `timings`, Ollama durations), in ms. */
  serverTimings?: Record<string, number>;
  /** Nothing was timed (outputs read from a file): the record's timing figures are null. */
  untimed?: true;
  /** ln p of each generated token as the engine chose it (node-llama-cpp); absent where the engine gives none. */
  tokenLogprobs?: number[];
}

export interface Score {
  pass: boolean;
  /** The scorer's graded value in [0, 1] (1 for a pass unless the scorer grades partially). */
  value: number;
  reason: string;
}

/** One line of records.jsonl: one task × sample for one cell. */
export interface RunRecord {
  runId: string;
  cellId: string;
  modelId: string;
  suiteHash: string;
  taskId: string;
  area: string | null;
  sample: number;
  prompt: string;
  promptTokenIds: number[];
  output: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
  ttftMs: number | null;
  /** Null when nothing was timed (outputs read from a file: `backend: outputs`). */
  latencyMs: number | null;
  promptTokensPerSecond: number | null;
  generationTokensPerSecond: number | null;
  score: Score;
  error: string | null;
  errorKind: string | null;
  /** Server backends: which endpoint served it, after how many attempts, and the server's own timings. */
  endpoint: string | null;
  attempts: number;
  serverTimings: Record<string, number> | null;
  /**
   * The output's token log-probabilities (natural log): mean and minimum over its tokens. Absent
   * (never a guess) where the engine gives none: servers, outputs read from a file, empty outputs.
   */
  confidence?: { meanLogprob: number; minLogprob: number; tokens: number };
  /** Each of the suite's rubrics: its score (0..1), whether a gate failed, and every criterion. */
  rubrics?: Record<string, import("./rubric.js").RubricResult>;
  /** The output says it does not know (the suite's `abstain` patterns, else the built-in ones). */
  abstained?: boolean;
  /** When its scorer grades after generation (judge, similarity): that spec's key in grades.jsonl. */
  gradedSpec?: string;
  /** Set when a grading model (judge, similarity) scored it: where `score` came from. */
  grade?: import("./grades.js").RecordGrade;
}
