import type { Timings } from "./types.js";

/**
 * Per-generation figures, each defined once here and in the README:
 * - time to first token (TTFT) = firstToken − start, where start is when the request was handed to
 *   the engine (prompt tokens queued) and firstToken when the first generated token was sampled;
 * - end-to-end latency = end − start;
 * - prompt tokens/s = prompt tokens ÷ TTFT (prompt processing plus the first sampling step);
 * - generation tokens/s = (completion tokens − 1) ÷ (lastToken − firstToken): the first token
 *   belongs to the prompt phase, so a one-token answer has no generation rate (null), not an
 *   infinite one; the step that samples end-of-generation adds no output token, so it counts in
 *   latency but not here. Completion tokens are the output's tokens (end-of-generation excluded).
 */
export interface GenerationMeasures {
  ttftMs: number | null;
  latencyMs: number;
  promptTokensPerSecond: number | null;
  generationTokensPerSecond: number | null;
}

export function measureGeneration(t: Timings, promptTokens: number, completionTokens: number): GenerationMeasures {
  const latencyMs = t.endMs - t.startMs;
  if (t.firstTokenMs === undefined || completionTokens === 0) {
    return { ttftMs: null, latencyMs, promptTokensPerSecond: null, generationTokensPerSecond: null };
  }
  const ttftMs = t.firstTokenMs - t.startMs;
  const genMs = (t.lastTokenMs ?? t.endMs) - t.firstTokenMs;
  return {
    ttftMs,
    latencyMs,
    promptTokensPerSecond: ttftMs > 0 ? (promptTokens * 1000) / ttftMs : null,
    generationTokensPerSecond: completionTokens > 1 && genMs > 0 ? ((completionTokens - 1) * 1000) / genMs : null,
  };
}
