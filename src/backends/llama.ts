import { LlamaText, resolveChatWrapper, type ChatHistoryItem, type GbnfJsonSchema, type GgmlType, type LlamaContext, type LlamaContextSequence, type LlamaEmbeddingContext, type LlamaGrammar, type LlamaModel, type Token } from "node-llama-cpp";
import type { Generation, RuntimeSettings } from "../core/types.js";
import type { Backend, BatchResult, ContinuationLogprob, ContextSettings, GenerationRequest, LoadedModelInfo, LoadTarget, PreparedPrompt } from "./backend.js";
import { checkGgufHeader } from "./gguf-header.js";
import { tokenizerFacts } from "./tokenizer-facts.js";
import { getEngine, type Engine } from "./llama-engine.js";
import { runLockstep } from "./lockstep.js";
import { logNormalizer, tokenLogProbs } from "./token-logprobs.js";

/**
 * The embedded backend: node-llama-cpp in this process. Prompts are tokenized as llama.cpp's own
 * tools do (BOS, then the text with special tokens parsed and SentencePiece's leading space), and
 * fed as token ids: node-llama-cpp's LlamaCompletion drops that leading space, which on the arith
 * checkpoints turns a perfect score into 0.07–0.53.
 */
export class LlamaBackend implements Backend {
  readonly kind = "llama";
  private engine?: Engine;
  private model?: LlamaModel;
  /** Resolved once per model: resolving reads and parses the GGUF's template (~0.5 s each time). */
  private chatWrapper?: ReturnType<typeof resolveChatWrapper>;
  private embedding?: LlamaEmbeddingContext;
  private scoring?: { context: LlamaContext; sequence: LlamaContextSequence };
  private runtime?: RuntimeSettings;
  private warmedUp = false;

  async load(target: LoadTarget): Promise<LoadedModelInfo> {
    const { runtime } = target;
    const modelPath = target.path;
    if (!modelPath) throw new Error("the llama backend loads a GGUF file: no path given");
    this.engine = await getEngine(runtime, modelPath);
    this.runtime = runtime;
    const { llama, info } = this.engine;
    const warningsBefore = this.engine.warnings.length;
    // Load time is the model's alone: the binding is loaded once per process (recorded as engine initMs).
    const started = performance.now();
    const gpuLayers = info.gpu === false ? 0 : runtime.gpuLayers;
    checkGgufHeader(modelPath);
    this.model = await withTimeout(llama.loadModel({ modelPath, gpuLayers }), loadTimeoutMs(), `loading ${modelPath}`);
    this.chatWrapper = undefined;
    const loadMs = performance.now() - started;
    const meta = this.model.fileInfo.metadata;
    return {
      loadMs,
      runtime: { gpuLayers: this.model.gpuLayers, binary: runtime.binary, gpu: runtime.gpu },
      engine: {
        library: "node-llama-cpp",
        ...info,
        architecture: meta.general.architecture,
        trainContextSize: this.model.trainContextSize,
        fileSizeBytes: this.model.size,
        vocabularyType: this.model.vocabularyType,
        chatTemplate: hasChatTemplate(this.model),
        bos: this.model.tokens.bos,
        eos: this.model.tokens.eos,
        addsBos: this.model.tokens.shouldPrependBosToken,
        tokenizer: tokenizerFacts(meta),
      },
      warnings: this.engine.warnings.slice(warningsBefore),
    };
  }

  async preparePrompt(text: string, chatTemplate: "auto" | "never" | "always", system: string | null = null): Promise<PreparedPrompt> {
    return this.preparePromptNow(text, chatTemplate, system);
  }

  /** The same, synchronously: node-llama-cpp tokenizes in-process. */
  preparePromptNow(text: string, chatTemplate: "auto" | "never" | "always", system: string | null = null): PreparedPrompt {
    const model = this.requireModel();
    const apply = chatTemplate === "always" || (chatTemplate === "auto" && hasChatTemplate(model));
    if (!apply) {
      // Without a chat template a system message is plain text before the prompt.
      const full = system ? `${system}\n\n${text}` : text;
      const tokens = model.tokenize(full, true);
      const bos = model.tokens.bos;
      const withBos = model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos ? [bos, ...tokens] : tokens;
      return { text: full, tokenIds: withBos.map(Number), chatTemplate: null, stopStrings: [] };
    }
    const wrapper = (this.chatWrapper ??= resolveChatWrapper(model));
    const history: ChatHistoryItem[] = [
      ...(system ? [{ type: "system" as const, text: system }] : []),
      { type: "user", text },
      { type: "model", response: [] },
    ];
    const state = wrapper.generateContextState({ chatHistory: history });
    const tokens = state.contextText.tokenize(model.tokenizer);
    return {
      text: state.contextText.toString(),
      tokenIds: tokens.map(Number),
      chatTemplate: wrapper.wrapperName,
      stopStrings: textStopTriggers(state.stopGenerationTriggers),
    };
  }

  async generateAll(
    requests: GenerationRequest[],
    settings: ContextSettings,
    onResult: (r: GenerationRequest, g: Generation) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<BatchResult> {
    const model = this.requireModel();
    const info = (this.engine as Engine).info;
    const threads = resolveThreads(settings.threads, info.binary, info.cpuMathCores, info.cmakeOptions, info.gpu);
    const sequences = Math.max(1, Math.min(settings.parallel, requests.length));
    const context = {
      threads: threads.value,
      threadsReason: threads.reason,
      sequences,
      contextSizePerSequence: settings.contextSize,
      batchSize: settings.batchSize ?? null,
      flashAttention: settings.flashAttention,
      kvCacheType: settings.kvCacheType ?? "f16",
    };
    let llamaContext: LlamaContext;
    try {
      llamaContext = await model.createContext({
        sequences,
        contextSize: settings.contextSize,
        threads: threads.value,
        flashAttention: settings.flashAttention,
        ...(settings.batchSize ? { batchSize: settings.batchSize } : {}),
        ...(settings.kvCacheType ? { experimentalKvCacheKeyType: kvType(settings.kvCacheType), experimentalKvCacheValueType: kvType(settings.kvCacheType) } : {}),
      });
    } catch (error) {
      const message = `could not create a context (${sequences} sequences × ${settings.contextSize} tokens): ${(error as Error).message}`;
      const now = performance.now();
      for (const r of requests) await onResult(r, failed(r, message, now));
      return { wallMs: 0, context, aborted: false };
    }
    try {
      const sequenceList = Array.from({ length: sequences }, () => llamaContext.getSequence());
      await warmUp(model, sequenceList, requests[0], this.warmedUp ? 0 : Number(process.env.HELDOUT_WARMUP_MS ?? WARMUP_MS));
      this.warmedUp = true;
      const grammars = new Map<string, LlamaGrammar>();
      for (const r of requests) {
        const key = r.jsonSchema ? JSON.stringify(r.jsonSchema) : undefined;
        // node-llama-cpp compiles a JSON schema into a GBNF grammar; one per distinct schema.
        if (key && !grammars.has(key)) grammars.set(key, await grammarForSchema((this.engine as Engine).llama, r.jsonSchema as GbnfJsonSchema));
      }
      const grammarOf = (r: GenerationRequest) => (r.jsonSchema ? grammars.get(JSON.stringify(r.jsonSchema)) : undefined);
      const result = await runLockstep(model, sequenceList, requests, onResult, signal, grammarOf);
      return { ...result, context };
    } finally {
      await llamaContext.dispose();
    }
  }

  async vramUsedBytes(): Promise<number | null> {
    if (!this.engine || this.engine.info.gpu === false) return null;
    const state = await this.engine.llama.getVramState();
    return state.used;
  }

  /** Embeddings from one embedding context, made on first use and kept until unload. */
  async embed(texts: string[]): Promise<number[][]> {
    const model = this.requireModel();
    const size = Math.min(model.trainContextSize, 4096);
    this.embedding ??= await model.createEmbeddingContext({ contextSize: size });
    const out: number[][] = [];
    for (const text of texts) {
      // The embedding context holds one text at a time: longer texts are cut to fit.
      const tokens = model.tokenize(text).slice(0, size - 2);
      out.push([...(await this.embedding.getEmbeddingFor(tokens)).vector]);
    }
    return out;
  }

  /**
   * Log-likelihood of each continuation after the prompt, from full-vocabulary logits (one
   * context, made on first use with the load's runtime, kept until unload). Tokenization rule: the
   * continuation text is the choice, preceded by one space unless the prompt is empty or ends in
   * whitespace or the choice starts with whitespace (lm-evaluation-harness's target delimiter).
   * Prompt + continuation text is tokenized as a run tokenizes a prompt; when the prompt's own
   * tokens are a prefix of that, the continuation's tokens are the rest. When they are not (the
   * boundary merged into one token, or a chat-templated prompt tokenizes differently), the
   * continuation text is tokenized alone and the result says `aligned: false`.
   */
  async continuationLogprobs(prompt: { text: string; tokenIds: number[] }, continuations: string[]): Promise<ContinuationLogprob[]> {
    const model = this.requireModel();
    const runtime = this.runtime as RuntimeSettings;
    const sequence = await this.scoringSequence();
    const promptTokens = (prompt.tokenIds.length > 0 ? prompt.tokenIds : this.preparePromptNow(prompt.text, "never").tokenIds) as Token[];
    if (promptTokens.length === 0) throw new Error("an empty prompt without BOS: the first token has no probability");
    const out: ContinuationLogprob[] = [];
    for (const choice of continuations) {
      const sep = prompt.text === "" || /\s$/u.test(prompt.text) || /^\s/u.test(choice) ? "" : " ";
      const text = sep + choice;
      const { tokens, aligned } = this.continuationTokens({ text: prompt.text, tokenIds: promptTokens }, text);
      if (tokens.length === 0) throw new Error(`the continuation ${JSON.stringify(text)} has no tokens`);
      const all = [...promptTokens, ...tokens];
      if (all.length > runtime.contextSize) throw new Error(`prompt + continuation take ${all.length} tokens, more than the context (${runtime.contextSize})`);
      const logProbs = await tokenLogProbs(sequence, [], all, promptTokens.length - 1);
      out.push({ text, logprob: logProbs.reduce((a, b) => a + b, 0), tokens: tokens.length, aligned });
    }
    return out;
  }

  /** The model's BOS token when it adds one to a prompt, else null. */
  bosToken(): number | null {
    const model = this.requireModel();
    return model.tokens.shouldPrependBosToken && model.tokens.bos !== null ? Number(model.tokens.bos) : null;
  }

  /**
   * The tokens of `text` written right after a prompt: prompt + text tokenized as a run tokenizes a
   * prompt, minus the prompt's own tokens when those are a prefix (`aligned`); otherwise (the
   * boundary merged into one token, a chat-templated prompt) the text tokenized alone.
   */
  continuationTokens(prompt: { text: string; tokenIds: readonly number[] }, text: string): { tokens: Token[]; aligned: boolean } {
    const model = this.requireModel();
    const joined = this.preparePromptNow(prompt.text + text, "never").tokenIds as Token[];
    const aligned = joined.length > prompt.tokenIds.length && prompt.tokenIds.every((t, i) => joined[i] === t);
    return { tokens: aligned ? joined.slice(prompt.tokenIds.length) : model.tokenize(text, false), aligned };
  }

  /**
   * The full next-token distribution (natural-log probabilities over the whole vocabulary) after
   * each position ≥ `from` of `tokens`, teacher-forced: entry k is p(· | tokens[0..from + k]).
   */
  async nextTokenLogProbs(tokens: readonly number[], from: number): Promise<Float32Array[]> {
    this.requireModel();
    const runtime = this.runtime as RuntimeSettings;
    if (tokens.length > runtime.contextSize) throw new Error(`${tokens.length} tokens do not fit the context (${runtime.contextSize})`);
    const sequence = await this.scoringSequence();
    await sequence.clearHistory();
    // node-llama-cpp returns each position's logits as a Map until the call ends (~12 MiB per
    // position at a 152k vocabulary), so the positions are evaluated a few at a time, the sequence
    // carrying on from where the last call stopped, and each Map becomes a Float32Array at once.
    if (from > 0) await sequence.controlledEvaluate(tokens.slice(0, from).map((t) => t as Token));
    const result: Float32Array[] = [];
    for (let start = from; start < tokens.length; start += LOGIT_POSITIONS_PER_CALL) {
      const chunk = tokens.slice(start, start + LOGIT_POSITIONS_PER_CALL).map((t) => [t as Token, { generateNext: { logits: true } }] as [Token, { generateNext: { logits: true } }]);
      const out = await sequence.controlledEvaluate(chunk);
      out.forEach((o, k) => {
        const logits = o?.next.logits;
        if (!logits) throw new Error(`node-llama-cpp returned no logits for position ${start + k}`);
        result.push(logSoftmaxOf(logits));
      });
    }
    return result;
  }

  /** One single-sequence context for scoring, made on first use with the load's runtime, kept until unload. */
  private async scoringSequence(): Promise<LlamaContextSequence> {
    if (!this.scoring) {
      const model = this.requireModel();
      const runtime = this.runtime as RuntimeSettings;
      const info = (this.engine as Engine).info;
      const threads = resolveThreads(runtime.threads, info.binary, info.cpuMathCores, info.cmakeOptions, info.gpu);
      const context = await model.createContext({ sequences: 1, contextSize: runtime.contextSize, threads: threads.value, flashAttention: runtime.flashAttention });
      this.scoring = { context, sequence: context.getSequence() };
    }
    return this.scoring.sequence;
  }

  async unload(): Promise<void> {
    await this.scoring?.context.dispose();
    this.scoring = undefined;
    await this.embedding?.dispose();
    this.embedding = undefined;
    await this.model?.dispose();
    this.model = undefined;
    this.chatWrapper = undefined;
  }

  private requireModel(): LlamaModel {
    if (!this.model) throw new Error("LlamaBackend: load() a model first");
    return this.model;
  }
}

/**
 * Untimed warm-up generations on the cell's own context before the timed ones. A context's first
 * decode allocates its buffers, and a new process runs JIT-cold: measured on a tiny model, an
 * engine host without warm-up generated 15–25% slower than the same loop in a warm process. So
 * the first cell of a host warms up for WARMUP_MS (at least one generation, at most
 * WARMUP_MAX_GENERATIONS), later cells with one generation. HELDOUT_WARMUP_MS overrides the budget
 * (0: one generation per cell).
 */
export const WARMUP_MS = 300;
const WARMUP_MAX_GENERATIONS = 64;
const WARMUP_TOKENS = 32;

async function warmUp(model: LlamaModel, sequences: readonly LlamaContextSequence[], first: GenerationRequest | undefined, budgetMs: number): Promise<void> {
  if (!first) return;
  const request = { ...first, key: "warm-up", maxTokens: Math.min(first.maxTokens, WARMUP_TOKENS) };
  const started = performance.now();
  for (let i = 0; i < WARMUP_MAX_GENERATIONS; i++) {
    await runLockstep(model, sequences, sequences.map(() => request), () => undefined);
    if (performance.now() - started >= budgetMs) break;
  }
}

const LOGIT_POSITIONS_PER_CALL = 8;

/** A full-vocabulary logits map (token id → logit) as natural-log probabilities indexed by token id. */
function logSoftmaxOf(logits: ReadonlyMap<Token, number>): Float32Array {
  let size = 0;
  for (const token of logits.keys()) if (token >= size) size = token + 1;
  const norm = logNormalizer(logits.values());
  const out = new Float32Array(size).fill(Number.NEGATIVE_INFINITY);
  for (const [token, v] of logits) out[token] = v - norm;
  return out;
}

/** node-llama-cpp names KV cache types by ggml's upper-case type names. */
function kvType(name: string): keyof typeof GgmlType {
  return name.toUpperCase() as keyof typeof GgmlType;
}

/** How long a model load may take before its cell is failed (HELDOUT_LOAD_TIMEOUT_MS, default 10 min). */
function loadTimeoutMs(): number {
  return Number(process.env.HELDOUT_LOAD_TIMEOUT_MS ?? 600_000);
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function failed(r: GenerationRequest, error: string, now: number): Generation {
  return { text: "", promptTokenIds: r.prompt.tokenIds, completionTokens: 0, timings: { startMs: now, endMs: now }, finishReason: "error", error };
}

/** node-llama-cpp's schema type is generic over the literal schema; ours is only known at run time. */
function grammarForSchema(llama: Engine["llama"], schema: GbnfJsonSchema): Promise<LlamaGrammar> {
  const create = llama.createGrammarForJsonSchema as (s: GbnfJsonSchema) => Promise<LlamaGrammar>;
  return create.call(llama, schema);
}

function hasChatTemplate(model: LlamaModel): boolean {
  const template = (model.fileInfo.metadata.tokenizer as { chat_template?: unknown } | undefined)?.chat_template;
  return typeof template === "string" && template.length > 0;
}

/** Chat-template stop triggers that are plain text (special tokens such as EOS end generation anyway). */
function textStopTriggers(triggers: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const trigger of triggers) {
    const parts = LlamaText(trigger as never).values;
    if (parts.every((p) => typeof p === "string" || (typeof p === "object" && p !== null && "type" in p && p.type === "specialTokensText"))) {
      const text = parts.map((p) => (typeof p === "string" ? p : (p as { value: string }).value)).join("");
      if (text) out.push(text);
    }
  }
  return out;
}

/**
 * "auto" threads: the fastest count for the binary in use. node-llama-cpp attaches no ggml
 * threadpool, so without OpenMP every decode spawns spinning threads; on a small machine they
 * fight for the cores and generation collapses 20–35× at 2 threads. Measured on 2 vCPUs even the
 * OpenMP build is slower at 2 threads than at 1. So: 1 thread on machines with ≤ 4 cores, else
 * every math core.
 */
export function resolveThreads(
  threads: number | "auto",
  binary: string,
  cpuMathCores: number,
  cmakeOptions: Record<string, string>,
  gpu: string | false,
): { value: number; reason: string } {
  if (threads !== "auto") return { value: threads, reason: "set explicitly (model manifest, profile or command line)" };
  const openmp = cmakeOptions.GGML_OPENMP === "ON";
  if (cpuMathCores <= 4)
    return { value: 1, reason: `auto: ${cpuMathCores} math cores; more than 1 thread is slower here (${binary}${openmp ? ", OpenMP" : ", no OpenMP"})` };
  return { value: cpuMathCores, reason: `auto: one per math core (${binary}${openmp ? ", OpenMP" : ""}${gpu ? `, ${gpu}` : ""})` };
}

export type { Token };
