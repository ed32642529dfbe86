import { contentId } from "./canonical.js";
import type { ModelSpec, Profile, Suite } from "./types.js";

/**
 * A cell is one model under one set of settings, run over the whole suite. Its id is a hash of
 * everything that can change its outputs, so the same cell in two runs is recognisable and a
 * changed setting is never mistaken for the same cell.
 */
export interface Cell {
  id: string;
  modelId: string;
  modelSha256: string;
  settings: Record<string, unknown>;
}

export function planCell(suite: Suite, model: ModelSpec, modelSha256: string, profile: Profile): Cell {
  const settings = {
    backend: model.backend,
    runtime: model.runtime,
    sampling: profile.sampling,
    samples: profile.samples,
    parallel: profile.parallel,
    prompt: suite.promptTemplate,
    chatTemplate: suite.chatTemplate,
    maxTokens: profile.sampling.maxTokens ?? suite.maxTokens,
  };
  return { id: `${model.id}@${contentId({ modelSha256, suiteHash: suite.hash, settings })}`, modelId: model.id, modelSha256, settings };
}

/** Seed for one sample: consecutive samples of a task differ at temperature > 0 and repeat across runs. */
export function sampleSeed(profile: Profile, sample: number): number {
  return profile.sampling.seed + sample;
}
