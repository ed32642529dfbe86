import { FieldReader, isRecord, parseConfig, Problems } from "./config-doc.js";
import type { Profile, SamplingSettings } from "./types.js";

/**
 * Profiles: how to sample and how many generations to run. Every sampling parameter has an explicit
 * value here (defaults are greedy) and is passed to the backend as is, so no library default
 * ever decides a result silently.
 */

export const DEFAULT_SAMPLING: SamplingSettings = {
  temperature: 0,
  topP: 1,
  topK: 0,
  minP: 0,
  repeatPenalty: 1,
  repeatLastN: 64,
  seed: 42,
  stop: [],
};

const PROFILE_FIELDS = ["name", "description", "sampling", "samples", "parallel", "timeoutMs"] as const;
const SAMPLING_FIELDS = ["temperature", "topP", "topK", "minP", "repeatPenalty", "repeatLastN", "seed", "maxTokens", "stop"] as const;

export function parseProfile(file: string, text: string): Profile {
  const problems = new Problems("invalid-profile");
  const doc = parseConfig(file, text);
  const value = doc.value ?? {};
  if (!isRecord(value)) {
    problems.add("a profile must be a mapping of fields", { file, line: 1 });
    problems.throwIfAny();
  }
  const r = new FieldReader(doc, value as Record<string, unknown>, [], problems);
  r.rejectUnknown(PROFILE_FIELDS);
  const s = r.child("sampling");
  s?.rejectUnknown(SAMPLING_FIELDS);
  const d = DEFAULT_SAMPLING;
  const sampling: SamplingSettings = {
    temperature: s?.number("temperature", d.temperature, { min: 0 }) ?? d.temperature,
    topP: s?.number("topP", d.topP, { min: 0, max: 1 }) ?? d.topP,
    topK: s?.number("topK", d.topK, { min: 0, integer: true }) ?? d.topK,
    minP: s?.number("minP", d.minP, { min: 0, max: 1 }) ?? d.minP,
    repeatPenalty: s?.number("repeatPenalty", d.repeatPenalty, { min: 0 }) ?? d.repeatPenalty,
    repeatLastN: s?.number("repeatLastN", d.repeatLastN, { min: 0, integer: true }) ?? d.repeatLastN,
    seed: s?.number("seed", d.seed, { min: 0, integer: true }) ?? d.seed,
    stop: s?.stringList("stop", []) ?? [],
  };
  const maxTokens = s?.has("maxTokens") ? s.number("maxTokens", undefined, { min: 1, integer: true }) : undefined;
  if (maxTokens !== undefined) sampling.maxTokens = maxTokens;
  const profile: Profile = {
    name: r.string("name", file.replace(/^.*\//, "").replace(/\.(ya?ml|json)$/, "")) ?? "profile",
    file,
    sampling,
    samples: r.number("samples", 1, { min: 1, integer: true }) ?? 1,
    parallel: r.number("parallel", 1, { min: 1, max: 256, integer: true }) ?? 1,
    timeoutMs: r.number("timeoutMs", 120_000, { min: 1 }) ?? 120_000,
  };
  problems.throwIfAny();
  return profile;
}
