import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { resolveThreads } from "../backends/llama.js";
import { tokenLogProbs } from "../backends/token-logprobs.js";
import { getEngine } from "../backends/llama-engine.js";
import { HeldoutError } from "../core/errors.js";
import type { RuntimeSettings } from "../core/types.js";
import { loadInputs } from "../runner/inputs.js";
import type { ResolvedModel } from "../store/models.js";
import {
  areaShares,
  evidenceText,
  meanLogLikelihood,
  perturbations,
  probeText,
  reproduction,
  splitPoint,
  THRESHOLDS,
  verdict,
  type ContaminationReport,
  type PerturbationScore,
  type TaskProbe,
} from "./contamination.js";

/**
 * `heldout contamination`, the I/O edge: node-llama-cpp in this process. Text is tokenized as a
 * run tokenizes a prompt without a chat template (special tokens parsed, SentencePiece's leading
 * space, BOS first where the model adds one); per-token log-probabilities come from the raw
 * logits of each position (controlledEvaluate with `generateNext.logits` over the whole vocabulary:
 * log p = logit − max − log Σ exp(logit − max)); the greedy
 * continuation is sequence.evaluate at temperature 0.
 */

export interface ContaminationOptions {
  suiteDir: string;
  modelFile: string;
  profileFile: string;
  /** Probe only the first N tasks (in the suite's order). */
  limit?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function runContamination(options: ContaminationOptions): Promise<ContaminationReport> {
  const inputs = await loadInputs({ suiteDir: options.suiteDir, modelFiles: [options.modelFile], profileFile: options.profileFile });
  const spec = inputs.specs[0];
  if (!spec || spec.backend !== "llama") {
    throw new HeldoutError("invalid-option", "contamination needs a GGUF model (a backend: llama manifest or a .gguf): it reads token probabilities in process", { field: "--model" });
  }
  const resolved = inputs.resolved.get(spec.id) as ResolvedModel;
  const runtime: RuntimeSettings = inputs.cells.find((c) => c.modelId === spec.id)?.runtime ?? spec.runtime;
  const tasks = options.limit === undefined ? inputs.suite.tasks : inputs.suite.tasks.slice(0, options.limit);

  const engine = await getEngine(runtime, resolved.path);
  const threads = resolveThreads(runtime.threads, engine.info.binary, engine.info.cpuMathCores, engine.info.cmakeOptions, engine.info.gpu);
  const model = await engine.llama.loadModel({ modelPath: resolved.path, gpuLayers: runtime.gpuLayers });
  try {
    const context = await model.createContext({ sequences: 1, contextSize: runtime.contextSize, threads: threads.value, flashAttention: runtime.flashAttention });
    try {
      const sequence = context.getSequence();
      const probes: TaskProbe[] = [];
      for (const [i, task] of tasks.entries()) {
        const { text } = probeText(inputs.suite, task);
        probes.push(await probeOne(model, sequence, runtime.contextSize, task.id, task.area ?? "(none)", text));
        options.onProgress?.(i + 1, tasks.length);
      }
      const { areas, overall } = areaShares(probes);
      return {
        model: { id: spec.id, path: resolved.path },
        suite: { name: inputs.suite.name, dir: options.suiteDir },
        thresholds: THRESHOLDS,
        tasks: probes,
        areas,
        overall,
      };
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** BOS (where the model adds one) + the text's tokens, as LlamaBackend.preparePromptNow does without a chat template. */
export function tokenizeAsRun(model: LlamaModel, text: string): { bos: Token[]; tokens: Token[] } {
  const tokens = model.tokenize(text, true);
  const bos = model.tokens.bos;
  if (model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) return { bos: [bos], tokens };
  return { bos: [], tokens };
}

/** Per-token log-probabilities from full-vocabulary logits (shared with the likelihood scorer). */
export { tokenLogProbs };

/** The greedy continuation of BOS + prefix, up to maxTokens, stopping at end-of-generation. */
export async function greedyContinuation(model: LlamaModel, sequence: LlamaContextSequence, bos: readonly Token[], prefix: readonly Token[], maxTokens: number): Promise<Token[]> {
  await sequence.clearHistory();
  const out: Token[] = [];
  if (maxTokens <= 0) return out;
  for await (const token of sequence.evaluate([...bos, ...prefix], { temperature: 0 })) {
    if (model.isEogToken(token)) break;
    out.push(token);
    if (out.length >= maxTokens) break;
  }
  return out;
}

async function probeOne(model: LlamaModel, sequence: LlamaContextSequence, contextSize: number, taskId: string, area: string, text: string): Promise<TaskProbe> {
  const { bos, tokens: full } = tokenizeAsRun(model, text);
  // Keep the text within the context (the continuation never runs past the text's own length).
  const room = Math.max(1, contextSize - bos.length);
  const tokens = full.slice(0, room);
  const truncatedTokens = full.length - tokens.length;
  const at = splitPoint(tokens.length);
  let repro = null;
  let continuationText = "";
  if (at !== null) {
    const prefix = tokens.slice(0, at);
    const rest = tokens.slice(at);
    const continuation = await greedyContinuation(model, sequence, bos, prefix, rest.length);
    continuationText = model.detokenize(continuation, false, prefix);
    repro = reproduction(rest, continuation, model.detokenize(rest, false, prefix), continuationText);
  }
  const exactMean = meanLogLikelihood(await tokenLogProbs(sequence, bos, tokens));
  const scored: PerturbationScore[] = [];
  for (const p of perturbations(text)) {
    const t = tokenizeAsRun(model, p.text);
    const pt = t.tokens.slice(0, room);
    scored.push({ kind: p.kind, text: p.text, tokens: pt.length, meanLogLikelihood: meanLogLikelihood(await tokenLogProbs(sequence, t.bos, pt)) });
  }
  const v = verdict(repro, exactMean, scored);
  const probe: TaskProbe = {
    taskId,
    area,
    text,
    tokens: tokens.length,
    prefixTokens: at,
    continuation: continuationText,
    reproduction: repro,
    exactMeanLogLikelihood: exactMean,
    perturbations: scored,
    likelihoodGap: v.likelihoodGap,
    reproduced: v.reproduced,
    likelihoodFlag: v.likelihoodFlag,
    flagged: v.flagged,
    evidence: "",
    truncatedTokens,
  };
  probe.evidence = evidenceText(probe);
  return probe;
}
