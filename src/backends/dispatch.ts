import type { Generation, ServerSettings } from "../core/types.js";
import type { GenerationRequest } from "./backend.js";

/**
 * Spreads generations over the endpoints that serve one model: at most `concurrency` requests in
 * flight per endpoint, a failed request retried with backoff (on another endpoint when there is
 * one), an endpoint that refuses connections rested before it is tried again. Every request ends
 * as exactly one Generation: a result, or a failure record saying what kind, where and how often.
 */

export type FailureKind = "connection" | "timeout" | "http-4xx" | "http-5xx" | "stream" | "model-not-found";

export class RequestFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** Whether trying again (elsewhere, later) can help. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Classifies what fetch or a stream threw. */
export function toFailure(error: unknown, timedOut: boolean): RequestFailure {
  if (error instanceof RequestFailure) return error;
  // A generation slower than its timeout would be as slow again: recorded, not retried.
  if (timedOut) return new RequestFailure("timeout", "no complete answer within the request timeout", false);
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? "";
  if (/ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_SOCKET|UND_ERR_CONNECT/.test(code) || /fetch failed|socket|terminated/i.test(e.message ?? "")) {
    return new RequestFailure("connection", `${e.message ?? "connection failed"}${code ? ` (${code})` : ""}`, true);
  }
  return new RequestFailure("stream", e.message ?? String(error), true);
}

export interface DispatchOptions {
  endpoints: readonly string[];
  concurrency: number;
  retries: number;
  signal?: AbortSignal;
  /** First backoff; doubles per attempt, capped at 2 s. */
  backoffMs?: number;
  /**
   * One untimed, unrecorded short request per endpoint first: a server loads a model lazily (or
   * reloads it for a new context size), which must not land in the first generation's latency.
   */
  warmUp?: boolean;
}

interface Job {
  request: GenerationRequest;
  attempts: number;
  avoid?: string;
  firstStart?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((done) => {
    const onAbort = () => {
      clearTimeout(t);
      done();
    };
    // The listener goes when the timer fires: idle workers sleep often and must not pile them up.
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      done();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/**
 * dispatch() for a model on servers: per-endpoint concurrency from the manifest (else the
 * profile's `parallel`), its retries and warm-up. Returns the concurrency used, for the record.
 */
export async function dispatchToServer(
  server: ServerSettings,
  requests: readonly GenerationRequest[],
  parallel: number,
  run: (request: GenerationRequest, endpoint: string, signal: AbortSignal) => Promise<Generation>,
  onResult: (request: GenerationRequest, generation: Generation) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<{ wallMs: number; aborted: boolean; concurrency: number }> {
  const concurrency = server.concurrency ?? parallel;
  const result = await dispatch(requests, { endpoints: server.endpoints, concurrency, retries: server.retries, signal, warmUp: server.warmUp !== false }, run, onResult);
  return { ...result, concurrency };
}

export async function dispatch(
  requests: readonly GenerationRequest[],
  options: DispatchOptions,
  run: (request: GenerationRequest, endpoint: string, signal: AbortSignal) => Promise<Generation>,
  onResult: (request: GenerationRequest, generation: Generation) => Promise<void> | void,
): Promise<{ wallMs: number; aborted: boolean }> {
  const queue: Job[] = requests.map((request) => ({ request, attempts: 0 }));
  const restUntil = new Map<string, number>();
  const backoff = options.backoffMs ?? 100;
  let firstStart: number | undefined;
  let lastEnd: number | undefined;
  let pending = queue.length;
  const inFlight = new Set<AbortController>();
  options.signal?.addEventListener("abort", () => inFlight.forEach((c) => c.abort()), { once: true });

  const take = (endpoint: string): Job | undefined => {
    // A retried job prefers another endpoint, unless this is the only one.
    const i = queue.findIndex((j) => j.avoid !== endpoint || options.endpoints.length === 1);
    return i >= 0 ? queue.splice(i, 1)[0] : undefined;
  };

  const worker = async (endpoint: string) => {
    while (pending > 0 && !options.signal?.aborted) {
      const rest = (restUntil.get(endpoint) ?? 0) - performance.now();
      if (rest > 0) {
        await sleep(rest, options.signal);
        continue;
      }
      const job = take(endpoint);
      if (!job) {
        await sleep(10, options.signal);
        continue;
      }
      job.attempts++;
      const controller = new AbortController();
      inFlight.add(controller);
      const started = performance.now();
      firstStart ??= started;
      let generation: Generation | undefined;
      try {
        generation = { ...(await run(job.request, endpoint, controller.signal)), endpoint, attempts: job.attempts };
      } catch (error) {
        if (options.signal?.aborted) return;
        const failure = toFailure(error, false);
        if (failure.kind === "connection") restUntil.set(endpoint, performance.now() + Math.min(2000, backoff * 2 ** job.attempts));
        if (failure.retryable && job.attempts <= options.retries) {
          job.avoid = endpoint;
          await sleep(Math.min(2000, backoff * 2 ** (job.attempts - 1)), options.signal);
          queue.unshift(job);
          continue;
        }
        const now = performance.now();
        generation = {
          text: "",
          promptTokenIds: job.request.prompt.tokenIds,
          completionTokens: 0,
          timings: { startMs: started, endMs: now },
          finishReason: failure.kind === "timeout" ? "timeout" : "error",
          error: `${endpoint}: ${failure.message}${job.attempts > 1 ? ` (after ${job.attempts} attempts)` : ""}`,
          errorKind: failure.kind,
          endpoint,
          attempts: job.attempts,
        };
      } finally {
        inFlight.delete(controller);
      }
      if (options.signal?.aborted) return;
      lastEnd = generation.timings.endMs;
      pending--;
      await onResult(job.request, generation);
    }
  };

  const first = requests[0];
  if (options.warmUp && first) {
    const warm = { ...first, maxTokens: Math.min(first.maxTokens, 8) };
    await Promise.all(options.endpoints.map((e) => run(warm, e, options.signal ?? new AbortController().signal).catch(() => undefined)));
  }
  const workers: Promise<void>[] = [];
  for (const endpoint of options.endpoints) for (let i = 0; i < Math.max(1, options.concurrency); i++) workers.push(worker(endpoint));
  await Promise.all(workers);
  return { wallMs: firstStart !== undefined && lastEnd !== undefined ? lastEnd - firstStart : 0, aborted: options.signal?.aborted === true };
}

/**
 * Asks every endpoint about the model at load time. A model an endpoint does not have stops the
 * load (the manifest is wrong); an endpoint that does not answer is a warning, and its share of
 * the work goes to the others until it does; the load fails only when none answers.
 */
export async function probeEndpoints(
  endpoints: readonly string[],
  probe: (endpoint: string) => Promise<Record<string, unknown>>,
): Promise<{ endpoints: Record<string, unknown>[]; warnings: string[] }> {
  const found: Record<string, unknown>[] = [];
  const warnings: string[] = [];
  for (const endpoint of endpoints) {
    try {
      found.push({ endpoint, ...(await probe(endpoint)) });
    } catch (error) {
      const failure = toFailure(error, false);
      if (failure.kind === "model-not-found") throw failure;
      warnings.push(`${endpoint} did not answer (${failure.message}); its share goes to the other endpoints until it does`);
      found.push({ endpoint, error: failure.message });
    }
  }
  if (found.every((e) => "error" in e)) throw new Error(`no endpoint answered: ${warnings.join("; ")}`);
  return { endpoints: found, warnings };
}
