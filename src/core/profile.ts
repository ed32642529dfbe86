import { DEFAULT_SAMPLING, parseSweep } from "./sweep.js";
import type { Profile } from "./types.js";

/**
 * A profile without lists is one cell's settings. Every sampling parameter has an explicit value
 * (defaults are greedy) and is passed to the backend as is, so no library default ever decides a
 * result silently. Profiles with lists are sweeps: see sweep.ts.
 */
export { DEFAULT_SAMPLING };

export function parseProfile(file: string, text: string): Profile {
  const sweep = parseSweep(file, text);
  const first = sweep.points[0];
  if (!first) throw new Error("a parsed profile always has at least one point");
  return { name: sweep.name, file, sampling: first.sampling, samples: first.samples, parallel: first.parallel, timeoutMs: first.timeoutMs };
}
