import { existsSync } from "node:fs";
import { join } from "node:path";
import { readGgufFileInfo, type LlamaModel, type Token } from "node-llama-cpp";
import type { Backend, GenerationRequest, PreparedPrompt } from "../backends/backend.js";
import { createBackend } from "../backends/index.js";
import { LlamaBackend } from "../backends/llama.js";
import { getEngine } from "../backends/llama-engine.js";
import { LlamaServerEngineBackend } from "../backends/llama-server-engine.js";
import { startLlamaServerProcess } from "../backends/llama-server-process.js";
import { llamaToolPath } from "../backends/llama-tools.js";
import { tokenizerFacts } from "../backends/tokenizer-facts.js";
import { HeldoutError } from "../core/errors.js";
import { promptText } from "../core/prompt.js";
import { DEFAULT_SAMPLING, type PromptVariant } from "../core/sweep.js";
import type { Generation, ModelSpec, RuntimeSettings } from "../core/types.js";
import { loadInputs } from "../runner/inputs.js";
import type { ResolvedModel } from "../store/models.js";
import {
  compareCount,
  compareIds,
  isOk,
  observeBackend,
  sequenceView,
  tokenizerTraps,
  type BackendObservation,
  type BackendSummary,
  type ChatTemplateSetting,
  type Mismatch,
  type TokenizerFacts,
  type TokensReport,
  type Vocabulary,
} from "./tokens.js";

/**
 * `heldout check tokens`, the I/O edge: the token ids each backend feeds the model for every
 * prompt of a suite, obtained the way a run obtains them (the backend's own `preparePrompt`:
 * node-llama-cpp in this process, llama.cpp's llama-server started for the GGUF, a server from a
 * manifest), or the prompt token count a server reports where it exposes no tokenizer; the GGUF's
 * tokenizer facts; detokenizing for the report. The comparison itself is pure (./tokens.ts).
 */

/** One prompt as a run renders it: the task under a prompt variant, with the suite's chat-template setting. */
export interface PromptToCheck {
  /** `taskId` (with ` [variant]` when the profile has several prompt variants). */
  key: string;
  taskId: string;
  variant: string;
  text: string;
  system: string | null;
  chatTemplate: ChatTemplateSetting;
}

/** What one backend fed (or reported) for one prompt. */
export interface SourceAnswer {
  ids?: number[];
  /** The prompt token count, from a backend that exposes no tokenizer. */
  count?: number;
  /** The chat template it applied, null when none (PreparedPrompt.chatTemplate). */
  chatTemplate?: string | null;
  error?: string;
}

/**
 * A backend as the check sees it. The built-in ones wrap heldout's backends; a caller (a test)
 * may add its own candidate, e.g. one that tokenizes as node-llama-cpp's LlamaCompletion does.
 */
export interface TokenSource {
  readonly name: string;
  /** Answers in the order of `prompts`. */
  tokenize(prompts: readonly PromptToCheck[]): Promise<SourceAnswer[]>;
  close(): Promise<void>;
}

export type BackendChoice = "llama" | "llama-server" | "llama-server-chat" | "openai" | "ollama";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["llama", "llama-server", "llama-server-chat", "openai", "ollama"];

export interface CheckTokensOptions {
  suiteDir: string;
  modelFiles: string[];
  profileFile: string;
  /**
   * Which backends to ask; by default node-llama-cpp and llama-server (when built) for a GGUF,
   * llama-server-chat too when the suite applies the GGUF's chat template, and each server
   * manifest's backend.
   */
  backends?: readonly string[];
  /** Candidates added after the built-in backends (a test's planted backend). */
  extraSources?: readonly TokenSource[];
  /** A line per step, for a progress display. */
  onProgress?: (line: string) => void;
}

export interface CheckTokensResult {
  report: TokensReport;
  /** The GGUF's vocabulary, for the text form's pieces. */
  vocab: Vocabulary | null;
}

/** Runs the check: every prompt of the suite (× prompt variant) through every chosen backend. */
export async function checkTokens(options: CheckTokensOptions): Promise<CheckTokensResult> {
  const inputs = await loadInputs({ suiteDir: options.suiteDir, modelFiles: options.modelFiles, profileFile: options.profileFile });
  const { suite } = inputs;
  const ggufSpecs = inputs.specs.filter((s) => s.backend === "llama");
  const serverSpecs = inputs.specs.filter((s) => s.backend !== "llama");
  if (ggufSpecs.length > 1) {
    throw new HeldoutError(
      "invalid-option",
      `check tokens takes one GGUF model (and server manifests serving the same model); got ${ggufSpecs.length}: ${ggufSpecs.map((s) => s.file ?? s.id).join(", ")}`,
      { field: "--model" },
    );
  }
  const gguf = ggufSpecs[0];
  const resolved = gguf ? (inputs.resolved.get(gguf.id) as ResolvedModel) : undefined;
  const runtimeOf = (spec: ModelSpec): RuntimeSettings => inputs.cells.find((c) => c.modelId === spec.id)?.runtime ?? spec.runtime;
  const tokenizer = resolved ? await readTokenizer(resolved.path) : null;
  const chatApplies = suite.chatTemplate === "always" || (suite.chatTemplate === "auto" && Boolean(tokenizer?.facts.chatTemplate));
  const chosen = chooseBackends(options.backends, gguf !== undefined, chatApplies, serverSpecs);
  const notes: BackendSummary[] = [];
  if (options.backends === undefined && gguf && !llamaServerBuilt()) {
    notes.push({ backend: "llama-server", mode: "skipped", reference: false, prompts: 0, agree: 0, share: 0, errors: 0, note: "skipped: not built here (bash bench/build-llama-tools.sh)" });
  }

  // Every distinct prompt variant of the profile × every task, as a run renders them.
  const variants = [...new Map(inputs.cells.map((c) => [c.settings.prompt.name, c.settings.prompt])).values()];
  const prompts = variants.flatMap((variant: PromptVariant) =>
    suite.tasks.map((task) => ({
      key: variants.length > 1 ? `${task.id} [${variant.name}]` : task.id,
      taskId: task.id,
      variant: variant.name,
      text: promptText(suite, variant, task),
      system: variant.system,
      chatTemplate: suite.chatTemplate,
    })),
  );

  const factories: { name: string; open: () => Promise<TokenSource> }[] = [];
  for (const choice of chosen) {
    if (choice === "llama" && gguf && resolved) factories.push({ name: "llama", open: () => embeddedSource(resolved.path, runtimeOf(gguf)) });
    if (choice === "llama-server" && gguf && resolved) factories.push({ name: "llama-server", open: () => llamaServerSource(resolved.path, runtimeOf(gguf)) });
    if (choice === "llama-server-chat" && gguf && resolved) factories.push({ name: "llama-server-chat", open: () => llamaServerChatSource(resolved.path, runtimeOf(gguf)) });
    if (choice === "openai" || choice === "ollama")
      for (const spec of serverSpecs.filter((s) => s.backend === choice)) factories.push({ name: `${choice}:${spec.id}`, open: () => serverSource(`${choice}:${spec.id}`, spec, runtimeOf(spec)) });
  }
  for (const source of options.extraSources ?? []) factories.push({ name: source.name, open: async () => source });

  // One backend at a time: each may hold a whole model.
  const answers: { name: string; answers: SourceAnswer[] | null; error?: string }[] = [];
  for (const factory of factories) {
    options.onProgress?.(`${factory.name}: tokenizing ${prompts.length} prompts`);
    let source: TokenSource | undefined;
    try {
      source = await factory.open();
      const got = await source.tokenize(prompts);
      if (got.length !== prompts.length) throw new Error(`gave ${got.length} answers for ${prompts.length} prompts`);
      answers.push({ name: factory.name, answers: got });
    } catch (error) {
      answers.push({ name: factory.name, answers: null, error: (error as Error).message.split("\n")[0] ?? String(error) });
    } finally {
      await source?.close().catch(() => undefined);
    }
  }

  const detokenize = resolved ? await openDetokenizer(resolved.path, runtimeOf(gguf as ModelSpec)) : null;
  try {
    const report = buildReport({
      suite: { name: suite.name, dir: suite.dir, hash: suite.hash, chatTemplate: suite.chatTemplate, tasks: suite.tasks.length, variants: variants.map((v) => v.name) },
      model: { id: gguf?.id ?? serverSpecs[0]?.id ?? "?", file: (gguf ?? serverSpecs[0])?.file ?? null, path: resolved?.path ?? null },
      suiteFile: suiteFileOf(suite.dir),
      prompts,
      answers,
      notes,
      facts: tokenizer?.facts ?? null,
      vocab: tokenizer?.vocab ?? null,
      detokenize: detokenize?.text ?? null,
    });
    return { report, vocab: tokenizer?.vocab ?? null };
  } finally {
    await detokenize?.close();
  }
}

function chooseBackends(asked: readonly string[] | undefined, hasGguf: boolean, chatApplies: boolean, servers: readonly ModelSpec[]): BackendChoice[] {
  if (asked === undefined) {
    const out: BackendChoice[] = [];
    if (hasGguf) out.push("llama");
    if (hasGguf && llamaServerBuilt()) out.push("llama-server");
    if (hasGguf && chatApplies && llamaServerBuilt()) out.push("llama-server-chat");
    if (servers.some((s) => s.backend === "openai")) out.push("openai");
    if (servers.some((s) => s.backend === "ollama")) out.push("ollama");
    return out;
  }
  const problems: string[] = [];
  const out: BackendChoice[] = [];
  for (const name of asked) {
    if (!(BACKEND_CHOICES as readonly string[]).includes(name)) {
      problems.push(`unknown backend "${name}" (choose from ${BACKEND_CHOICES.join(", ")})`);
      continue;
    }
    const choice = name as BackendChoice;
    if (choice === "llama-server-chat" && !chatApplies)
      problems.push("backend llama-server-chat compares chat-template rendering, and this suite applies no chat template (chatTemplate: never, or auto with a GGUF that has none)");
    if ((choice === "llama" || choice === "llama-server" || choice === "llama-server-chat") && !hasGguf) problems.push(`backend ${choice} needs a GGUF model (a manifest with backend: llama, or a .gguf path)`);
    if ((choice === "openai" || choice === "ollama") && !servers.some((s) => s.backend === choice)) problems.push(`backend ${choice} needs a --model manifest with backend: ${choice}`);
    if (!out.includes(choice)) out.push(choice);
  }
  if (problems.length > 0) throw new HeldoutError("invalid-option", problems.join("; "), { field: "--backends" });
  return out;
}

function llamaServerBuilt(): boolean {
  return llamaToolPath("llama-server") !== null;
}

function suiteFileOf(dir: string): string {
  for (const name of ["suite.yaml", "suite.yml", "suite.json"]) if (existsSync(join(dir, name))) return join(dir, name);
  return join(dir, "suite.yaml");
}

// ---------------------------------------------------------------------------------------------
// Building the report (pure apart from the detokenizer it is handed)

interface BuildInput {
  suite: TokensReport["suite"];
  model: TokensReport["model"];
  suiteFile: string;
  prompts: readonly PromptToCheck[];
  answers: readonly { name: string; answers: SourceAnswer[] | null; error?: string }[];
  notes: BackendSummary[];
  facts: TokenizerFacts | null;
  vocab: Vocabulary | null;
  detokenize: ((ids: readonly number[]) => string) | null;
}

export function buildReport(input: BuildInput): TokensReport {
  const { prompts, vocab } = input;
  const text = (ids: readonly number[]) => (input.detokenize ? input.detokenize(ids) : null);
  const referenceEntry = input.answers.find((a) => a.answers?.some((x) => x.ids !== undefined));
  const reference = referenceEntry?.name ?? null;
  const refIds = (i: number) => referenceEntry?.answers?.[i]?.ids;
  const agreeing = prompts.map((_, i) => refIds(i) !== undefined);
  const mismatches: Mismatch[] = [];
  const summaries: BackendSummary[] = [];
  const observations: BackendObservation[] = [];
  for (const entry of input.answers) {
    if (!entry.answers) {
      summaries.push({ backend: entry.name, mode: "failed", reference: false, prompts: 0, agree: 0, share: 0, errors: 0, note: `failed: ${entry.error ?? "no answer"}` });
      continue;
    }
    const isReference = entry.name === reference;
    const withIds = entry.answers.filter((a) => a.ids !== undefined).length;
    const mode: BackendSummary["mode"] = withIds > 0 ? "ids" : entry.answers.some((a) => a.count !== undefined) ? "count" : "failed";
    let agree = 0;
    let errors = 0;
    entry.answers.forEach((answer, i) => {
      const prompt = prompts[i] as PromptToCheck;
      const ref = refIds(i);
      const base = { backend: entry.name, taskId: prompt.taskId, variant: prompt.variant };
      if (answer.error !== undefined || (answer.ids === undefined && answer.count === undefined)) {
        errors++;
        agreeing[i] = false;
        if (ref || isReference) mismatches.push({ ...base, mode: mode === "count" ? "count" : "ids", reference: sequenceView(reference ?? entry.name, ref ?? [], 0, vocab, null), error: answer.error ?? "no ids and no count" });
        return;
      }
      if (isReference) {
        agree++;
        return;
      }
      if (!ref) return; // the reference failed on this prompt: counted there
      if (answer.ids !== undefined) {
        const c = compareIds(ref, answer.ids);
        if (c.agree) agree++;
        else {
          agreeing[i] = false;
          mismatches.push({
            ...base,
            mode: "ids",
            position: c.position,
            edit: c.edit,
            reference: sequenceView(reference as string, ref, c.position, vocab, text(ref)),
            candidate: sequenceView(entry.name, answer.ids, c.position, vocab, text(answer.ids)),
          });
        }
      } else if (answer.count !== undefined) {
        const c = compareCount(ref, answer.count);
        if (c.agree) agree++;
        else {
          agreeing[i] = false;
          mismatches.push({ ...base, mode: "count", reference: sequenceView(reference as string, ref, 0, vocab, text(ref), 12), candidateCount: answer.count });
        }
      }
    });
    const answered = entry.answers.length;
    const chatTemplate = entry.answers.find((a) => a.error === undefined && a.chatTemplate !== undefined)?.chatTemplate;
    summaries.push({
      backend: entry.name,
      mode,
      reference: isReference,
      prompts: answered,
      agree,
      share: answered === 0 ? 0 : agree / answered,
      errors,
      ...(chatTemplate !== undefined ? { chatTemplate } : {}),
      ...(mode === "count" ? { note: "exposes no tokenizer: compared by the prompt token count it reports" } : {}),
    });
    const sequences = entry.answers.flatMap((a, i) => (a.ids ? [{ key: (prompts[i] as PromptToCheck).key, ids: a.ids }] : []));
    if (sequences.length > 0) observations.push(observeBackend(entry.name, chatTemplate, sequences, input.facts, vocab));
  }
  const traps = tokenizerTraps({ facts: input.facts, suiteChatTemplate: input.suite.chatTemplate, suiteFile: input.suiteFile, backends: observations });
  const backends = [...summaries, ...input.notes];
  const agreeingCount = agreeing.filter(Boolean).length;
  return {
    suite: input.suite,
    model: input.model,
    reference,
    backends,
    agreeing: agreeingCount,
    prompts: prompts.length,
    share: prompts.length === 0 ? 1 : agreeingCount / prompts.length,
    mismatches,
    facts: input.facts,
    traps,
    ok: isOk(summaries, mismatches, traps) && reference !== null,
  };
}

// ---------------------------------------------------------------------------------------------
// The built-in sources

/** A heldout Backend's own preparePrompt, as the engine host calls it in a run. */
async function prepareAll(backend: Backend, prompts: readonly PromptToCheck[]): Promise<{ prepared: PreparedPrompt | null; error?: string }[]> {
  const out: { prepared: PreparedPrompt | null; error?: string }[] = [];
  for (const p of prompts) {
    try {
      out.push({ prepared: await backend.preparePrompt(p.text, p.chatTemplate, p.system) });
    } catch (error) {
      out.push({ prepared: null, error: (error as Error).message });
    }
  }
  return out;
}

/** node-llama-cpp in this process: heldout's embedded backend (BOS, leading space, chat template). */
export function embeddedSource(path: string, runtime: RuntimeSettings): Promise<TokenSource> {
  return engineSource("llama", new LlamaBackend(), path, { ...runtime, engine: "embedded" }, null);
}

/** llama.cpp's llama-server started for the GGUF (heldout's llama-server engine): its /tokenize. */
export function llamaServerSource(path: string, runtime: RuntimeSettings): Promise<TokenSource> {
  return engineSource("llama-server", new LlamaServerEngineBackend(), path, { ...runtime, engine: "llama-server" }, "llama-server's /tokenize gave no ids");
}

/** A GGUF engine as a token source: prompts prepared as a run prepares them. */
async function engineSource(name: string, backend: Backend, path: string, runtime: RuntimeSettings, noIds: string | null): Promise<TokenSource> {
  await backend.load({ backend: "llama", path, runtime });
  return {
    name,
    async tokenize(prompts) {
      return (await prepareAll(backend, prompts)).map(({ prepared, error }) => {
        if (!prepared) return { error: error ?? "failed" };
        // llama-server's client records no ids when /tokenize fails; a tokenized prompt has at least one.
        if (noIds !== null && prepared.tokenIds.length === 0) return { error: noIds };
        return { ids: prepared.tokenIds, chatTemplate: prepared.chatTemplate };
      });
    },
    close: () => backend.unload(),
  };
}

/**
 * llama.cpp's own chat-template rendering, as its /v1/chat/completions feeds the model: the
 * messages through llama-server's /apply-template, the result through /tokenize with special
 * tokens added and parsed. Compared with node-llama-cpp's rendering where a suite applies the
 * GGUF's chat template.
 */
export async function llamaServerChatSource(path: string, runtime: RuntimeSettings): Promise<TokenSource> {
  const server = await startLlamaServerProcess({
    modelPath: path,
    threads: typeof runtime.threads === "number" ? runtime.threads : 1,
    slots: 1,
    contextSize: runtime.contextSize,
    flashAttention: runtime.flashAttention,
    gpuLayers: 0,
    alias: "model",
  });
  const post = async (route: string, body: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${server.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${route}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
    return (await response.json()) as Record<string, unknown>;
  };
  return {
    name: "llama-server-chat",
    async tokenize(prompts) {
      const answers: SourceAnswer[] = [];
      for (const p of prompts) {
        try {
          const messages = [...(p.system ? [{ role: "system", content: p.system }] : []), { role: "user", content: p.text }];
          const rendered = await post("/apply-template", { messages });
          if (typeof rendered.prompt !== "string") throw new Error("/apply-template gave no prompt");
          const tokenized = await post("/tokenize", { content: rendered.prompt, add_special: true, parse_special: true });
          if (!Array.isArray(tokenized.tokens)) throw new Error("/tokenize gave no tokens");
          answers.push({ ids: (tokenized.tokens as unknown[]).map(Number), chatTemplate: "llama-server" });
        } catch (error) {
          answers.push({ error: (error as Error).message });
        }
      }
      return answers;
    },
    close: async () => server.stop(),
  };
}

/**
 * A model on OpenAI-compatible or Ollama servers (its manifest): the ids of llama-server's
 * /tokenize where the server has one, else the prompt token count it reports for a one-token
 * generation (usage.prompt_tokens; Ollama's prompt_eval_count).
 */
export async function serverSource(name: string, spec: ModelSpec, runtime: RuntimeSettings): Promise<TokenSource> {
  const backend = createBackend(spec.backend);
  await backend.load({ backend: spec.backend, runtime, ...(spec.server ? { server: spec.server } : {}) });
  return {
    name,
    async tokenize(prompts) {
      const prepared = await prepareAll(backend, prompts);
      const answers: SourceAnswer[] = prepared.map(({ prepared: p, error }) =>
        !p ? { error: error ?? "failed" } : p.tokenIds.length > 0 ? { ids: p.tokenIds, chatTemplate: p.chatTemplate } : { chatTemplate: p.chatTemplate },
      );
      const toCount = answers.flatMap((a, i) => (a.ids === undefined && a.error === undefined ? [i] : []));
      if (toCount.length > 0) {
        const requests: GenerationRequest[] = toCount.map((i) => ({
          key: String(i),
          prompt: prepared[i]?.prepared as PreparedPrompt,
          maxTokens: 1,
          sampling: { ...DEFAULT_SAMPLING, stop: [] },
          timeoutMs: spec.server?.requestTimeoutMs ?? 120_000,
        }));
        await backend.generateAll(
          requests,
          { threads: runtime.threads, contextSize: runtime.contextSize, flashAttention: runtime.flashAttention, parallel: spec.server?.concurrency ?? 4 },
          (request, generation: Generation) => {
            const answer = answers[Number(request.key)] as SourceAnswer;
            if (generation.error) answer.error = generation.error;
            else if (typeof generation.promptTokens === "number") answer.count = generation.promptTokens;
            else answer.error = "the server reported no prompt token count";
          },
        );
      }
      return answers;
    },
    close: () => backend.unload(),
  };
}

// ---------------------------------------------------------------------------------------------
// The GGUF's tokenizer, and detokenizing

/** The GGUF's tokenizer facts and vocabulary (tokenizer.ggml.*), read from its header. */
export async function readTokenizer(path: string): Promise<{ facts: TokenizerFacts; vocab: Vocabulary }> {
  const info = await readGgufFileInfo(path, { readTensorInfo: false, logWarnings: false });
  return tokenizerFromMetadata(info.metadata.tokenizer as unknown as Record<string, unknown> | undefined);
}

/**
 * The facts from a GGUF's `tokenizer` metadata object (exported for tests): the ones every run
 * records (backends/tokenizer-facts.ts), with the BOS text, the chat template and the vocabulary.
 */
export function tokenizerFromMetadata(tokenizer: Record<string, unknown> | undefined): { facts: TokenizerFacts; vocab: Vocabulary } {
  const recorded = tokenizerFacts({ tokenizer });
  const ggml = (tokenizer?.ggml ?? {}) as Record<string, unknown>;
  const pieces = Array.isArray(ggml.tokens) ? (ggml.tokens as unknown[]).map(String) : [];
  const types = Array.isArray(ggml.token_type) ? (ggml.token_type as unknown[]).map(Number) : [];
  const template = tokenizer?.chat_template;
  return {
    facts: {
      model: recorded.model,
      pre: recorded.pre === "" ? null : recorded.pre,
      bosId: recorded.bosId,
      eosId: recorded.eosId,
      bosText: recorded.bosId === null ? null : (pieces[recorded.bosId] ?? null),
      addBos: recorded.addBos,
      addSpacePrefix: recorded.addSpacePrefix,
      chatTemplate: typeof template === "string" && template !== "" ? template : null,
      vocabularySize: pieces.length,
    },
    vocab: { pieces, types },
  };
}

/** node-llama-cpp's detokenizer on a vocabulary-only load of the GGUF (special tokens written as text). */
async function openDetokenizer(path: string, runtime: RuntimeSettings): Promise<{ text: (ids: readonly number[]) => string; close: () => Promise<void> } | null> {
  let model: LlamaModel;
  try {
    const { llama } = await getEngine(runtime, path);
    model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  } catch {
    return null;
  }
  return {
    text: (ids) => model.detokenize(ids as readonly Token[], true),
    close: () => model.dispose(),
  };
}
