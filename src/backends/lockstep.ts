import { LlamaGrammarEvaluationState, type LlamaContextSequence, type LlamaGrammar, type LlamaModel, type SequenceEvaluateOptions, type Token } from "node-llama-cpp";
import type { FinishReason, Generation } from "../core/types.js";
import type { GenerationRequest } from "./backend.js";

/**
 * Continuous batching over the sequences of one context, driven in lockstep: every step advances
 * every busy sequence by one token and awaits them together, so each llama_decode carries all of
 * them (when each sequence runs its own loop, node-llama-cpp batches only P−1 at a time). A
 * sequence that finishes takes the next request at once; its prompt joins the next step's batch.
 */

interface Job {
  request: GenerationRequest;
  iterator: AsyncIterator<{ token: Token; confidence: number }, void, void>;
  tokens: Token[];
  /** Natural log of each generated token's probability (node-llama-cpp's confidence of the chosen token). */
  logprobs: number[];
  stops: string[];
  startMs: number;
  firstTokenMs?: number;
  lastTokenMs?: number;
}

interface Slot {
  sequence: LlamaContextSequence;
  job?: Job;
}

type StepOutcome = { ok: true; result: IteratorResult<{ token: Token; confidence: number }, void> } | { ok: false; error: unknown };

export async function runLockstep(
  model: LlamaModel,
  sequences: readonly LlamaContextSequence[],
  requests: readonly GenerationRequest[],
  onResult: (r: GenerationRequest, g: Generation) => Promise<void> | void,
  signal?: AbortSignal,
  /** The grammar a request's output must follow (its JSON schema's), if any. */
  grammarOf?: (r: GenerationRequest) => LlamaGrammar | undefined,
): Promise<{ wallMs: number; aborted: boolean }> {
  const slots: Slot[] = sequences.map((sequence) => ({ sequence }));
  let next = 0;
  let firstStart: number | undefined;
  let lastEnd: number | undefined;

  const start = (slot: Slot, request: GenerationRequest) => {
    const s = request.sampling;
    const options: SequenceEvaluateOptions = {
      temperature: s.temperature,
      topK: s.topK,
      topP: s.topP,
      minP: s.minP,
      seed: s.seed,
      yieldEogToken: false,
    };
    const grammar = grammarOf?.(request);
    if (grammar) options.grammarEvaluationState = new LlamaGrammarEvaluationState({ model, grammar });
    const tokens: Token[] = [];
    if (s.repeatPenalty !== 1) {
      const history = request.prompt.tokenIds as Token[];
      options.repeatPenalty = {
        penalty: s.repeatPenalty,
        frequencyPenalty: 0,
        presencePenalty: 0,
        maxPunishTokens: s.repeatLastN,
        // llama.cpp's penalty_last_n window: the last N tokens of prompt and output together.
        punishTokens: () => [...history, ...tokens].slice(-s.repeatLastN),
      };
    }
    // With each token its probability (the confidence of the chosen token): calibration needs it.
    const iterator = slot.sequence.evaluateWithMetadata(request.prompt.tokenIds as Token[], { confidence: true }, options)[Symbol.asyncIterator]();
    const startMs = performance.now();
    firstStart ??= startMs;
    // A grammar says when its output is complete (a JSON schema grammar: four newlines after the object).
    const grammarStops = (grammar?.stopGenerationTriggers ?? []).flatMap((t) => (typeof t === "string" ? [t] : Array.isArray(t) ? [] : [String(t)]));
    slot.job = { request, iterator, tokens, logprobs: [], stops: [...s.stop, ...request.prompt.stopStrings, ...grammarStops], startMs };
  };

  const finish = async (slot: Slot, reason: FinishReason, endMs: number, error?: string, iteratorDone = false) => {
    const job = slot.job as Job;
    slot.job = undefined;
    if (!iteratorDone) await job.iterator.return?.().catch(() => undefined);
    let text = model.detokenize(job.tokens, false, job.request.prompt.tokenIds as Token[]);
    if (reason === "stop") text = cutAtStop(text, job.stops).text;
    lastEnd = endMs;
    const generation: Generation = {
      text,
      promptTokenIds: job.request.prompt.tokenIds,
      completionTokens: job.tokens.length,
      timings: { startMs: job.startMs, firstTokenMs: job.firstTokenMs, lastTokenMs: job.lastTokenMs, endMs },
      finishReason: reason,
      tokenLogprobs: job.logprobs,
    };
    if (error !== undefined) generation.error = error;
    await slot.sequence.clearHistory();
    await onResult(job.request, generation);
  };

  for (;;) {
    if (signal?.aborted) {
      // Generations in flight are dropped, not recorded: a resumed run generates them again.
      for (const slot of slots) if (slot.job) await slot.job.iterator.return?.().catch(() => undefined);
      return { wallMs: firstStart !== undefined && lastEnd !== undefined ? lastEnd - firstStart : 0, aborted: true };
    }
    for (const slot of slots) if (!slot.job && next < requests.length) start(slot, requests[next++] as GenerationRequest);
    const busy = slots.filter((s) => s.job);
    if (busy.length === 0) break;
    const outcomes = await Promise.all(
      busy.map((s) => (s.job as Job).iterator.next().then((result): StepOutcome => ({ ok: true, result }), (error: unknown): StepOutcome => ({ ok: false, error }))),
    );
    const now = performance.now();
    for (let i = 0; i < busy.length; i++) {
      const slot = busy[i] as Slot;
      const job = slot.job as Job;
      const outcome = outcomes[i] as StepOutcome;
      if (!outcome.ok) {
        await finish(slot, "error", now, errorMessage(outcome.error), true);
        continue;
      }
      if (outcome.result.done) {
        await finish(slot, "eos", now, undefined, true);
        continue;
      }
      job.tokens.push(outcome.result.value.token);
      job.logprobs.push(Math.log(Math.max(outcome.result.value.confidence, Number.MIN_VALUE)));
      job.firstTokenMs ??= now;
      job.lastTokenMs = now;
      if (job.stops.length > 0 && cutAtStop(model.detokenize(job.tokens, false, job.request.prompt.tokenIds as Token[]), job.stops).found) {
        await finish(slot, "stop", now);
      } else if (job.tokens.length >= job.request.maxTokens) {
        await finish(slot, "maxTokens", now);
      } else if (now - job.startMs > job.request.timeoutMs) {
        await finish(slot, "timeout", now, `no end after ${job.request.timeoutMs} ms`);
      }
    }
  }
  return { wallMs: firstStart !== undefined && lastEnd !== undefined ? lastEnd - firstStart : 0, aborted: false };
}

export function cutAtStop(text: string, stops: readonly string[]): { text: string; found: boolean } {
  let cut = -1;
  for (const stop of stops) {
    const at = stop ? text.indexOf(stop) : -1;
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut >= 0 ? { text: text.slice(0, cut), found: true } : { text, found: false };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
