import { percentileSorted } from "../core/percentile.js";
import type { BootstrapOptions } from "./intervals.js";
import { checkConfidence } from "./normal.js";
import { createRng, DEFAULT_SEED, randomInt } from "./random.js";

/**
 * Bradley–Terry strengths from pairwise preferences (Bradley & Terry 1952): player i beats player
 * j with probability πᵢ / (πᵢ + πⱼ). A tie counts as half a win for each side (Rao & Kupper's tie
 * model would add a parameter for little gain here).
 *
 * Fitted by maximum likelihood with the MM algorithm (Zermelo 1929; Hunter 2004), which increases
 * the likelihood at every step and converges whenever the estimate exists:
 *   πᵢ ← Wᵢ / Σⱼ nᵢⱼ / (πᵢ + πⱼ),
 * Wᵢ the wins of i (ties as halves), nᵢⱼ the comparisons of i with j. Strengths are reported on
 * the log scale, θᵢ = ln πᵢ, centred so that they sum to 0 over the compared players: θᵢ − θⱼ
 * is the log-odds that i is preferred to j, and 0 is the average player.
 *
 * The estimate exists only when every player has beaten, directly or through others, every other
 * (the "won" graph is strongly connected: Ford 1957); a player who won every comparison has an
 * infinite strength. `pseudoTies` adds that many virtual ties to every pair that was compared —
 * with 1, half a win to each side, the Haldane–Anscombe correction of a log-odds — so that a
 * clean sweep gets a large finite strength instead of none. Without it (the default), an
 * estimate that does not exist is null.
 */
export interface PairwiseOutcome {
  a: string;
  b: string;
  /** a's result: 1 a preferred, 0 b preferred, 0.5 a tie. */
  score: 0 | 0.5 | 1;
}

export interface BradleyTerryOptions {
  /** Virtual ties added to every compared pair (see above); default 0, the plain MLE. */
  pseudoTies?: number;
  /** MM stops when no log-strength moves more than this; default 1e-10. */
  tolerance?: number;
  maxIterations?: number;
}

export interface BradleyTerryFit {
  /** Centred log-strength per compared player; null when the estimate does not exist (see above). */
  strengths: Map<string, number> | null;
  iterations: number;
  converged: boolean;
}

interface Tally {
  /** Compared players, in the order given. */
  ids: string[];
  /** credit[i][j]: i's wins over j (ties as halves); count[i][j] = count[j][i]: their comparisons. */
  credit: number[][];
  count: number[][];
}

function tally(players: readonly string[], outcomes: readonly PairwiseOutcome[], pseudoTies: number): Tally {
  const index = new Map(players.map((p, i) => [p, i]));
  const k = players.length;
  const credit = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const count = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const o of outcomes) {
    const i = index.get(o.a);
    const j = index.get(o.b);
    if (i === undefined || j === undefined) throw new RangeError(`comparison between unknown players ${JSON.stringify([o.a, o.b])}`);
    if (i === j) throw new RangeError(`a player cannot be compared with itself (${o.a})`);
    if (o.score !== 0 && o.score !== 0.5 && o.score !== 1) throw new RangeError(`score must be 0, 0.5 or 1, got ${String(o.score)}`);
    (credit[i] as number[])[j] = ((credit[i] as number[])[j] as number) + o.score;
    (credit[j] as number[])[i] = ((credit[j] as number[])[i] as number) + (1 - o.score);
    (count[i] as number[])[j] = ((count[i] as number[])[j] as number) + 1;
    (count[j] as number[])[i] = ((count[j] as number[])[i] as number) + 1;
  }
  const active = players.map((_, i) => (count[i] as number[]).some((c) => c > 0));
  const keep = players.map((_, i) => i).filter((i) => active[i]);
  const sub = (m: number[][]) => keep.map((i) => keep.map((j) => (m[i] as number[])[j] as number));
  const c = sub(count);
  const w = sub(credit).map((row, i) => row.map((v, j) => (((c[i] as number[])[j] as number) > 0 ? v + pseudoTies / 2 : v)));
  return { ids: keep.map((i) => players[i] as string), credit: w, count: c.map((row) => row.map((v) => (v > 0 ? v + pseudoTies : v))) };
}

/** Every player reaches every other along "won against" edges (a tie is an edge both ways). */
function stronglyConnected(credit: readonly (readonly number[])[]): boolean {
  const k = credit.length;
  if (k <= 1) return true;
  const reach = (forward: boolean): boolean => {
    const seen = new Array<boolean>(k).fill(false);
    const stack = [0];
    seen[0] = true;
    while (stack.length > 0) {
      const i = stack.pop() as number;
      for (let j = 0; j < k; j++) {
        const edge = forward ? (credit[i] as number[])[j] : (credit[j] as number[])[i];
        if (!seen[j] && (edge as number) > 0) {
          seen[j] = true;
          stack.push(j);
        }
      }
    }
    return seen.every(Boolean);
  };
  return reach(true) && reach(false);
}

function fitTally(t: Tally, tolerance: number, maxIterations: number): BradleyTerryFit {
  const k = t.ids.length;
  if (k === 0 || !stronglyConnected(t.credit)) return { strengths: null, iterations: 0, converged: false };
  const wins = t.credit.map((row) => row.reduce((s, v) => s + v, 0));
  let p = new Array<number>(k).fill(1);
  let iterations = 0;
  let converged = k === 1;
  while (!converged && iterations < maxIterations) {
    iterations++;
    const next = p.map((pi, i) => {
      let denom = 0;
      const row = t.count[i] as number[];
      for (let j = 0; j < k; j++) if ((row[j] as number) > 0) denom += (row[j] as number) / (pi + (p[j] as number));
      return (wins[i] as number) / denom;
    });
    // Fix the scale: geometric mean 1 (log-strengths sum to 0).
    const logMean = next.reduce((s, v) => s + Math.log(v), 0) / k;
    const scaled = next.map((v) => v / Math.exp(logMean));
    converged = scaled.every((v, i) => Math.abs(Math.log(v) - Math.log(p[i] as number)) < tolerance);
    p = scaled;
  }
  const logs = p.map((v) => Math.log(v));
  const centre = logs.reduce((s, v) => s + v, 0) / k;
  return { strengths: new Map(t.ids.map((id, i) => [id, (logs[i] as number) - centre])), iterations, converged };
}

/** The maximum-likelihood strengths (no interval). */
export function fitBradleyTerry(players: readonly string[], outcomes: readonly PairwiseOutcome[], options: BradleyTerryOptions = {}): BradleyTerryFit {
  const { pseudoTies = 0, tolerance = 1e-10, maxIterations = 100_000 } = options;
  if (!(pseudoTies >= 0)) throw new RangeError(`pseudoTies must be ≥ 0, got ${pseudoTies}`);
  return fitTally(tally(players, outcomes, pseudoTies), tolerance, maxIterations);
}

export interface BradleyTerryPlayer {
  id: string;
  /** Comparisons this player took part in, and their results. */
  n: number;
  wins: number;
  ties: number;
  losses: number;
  /** Centred log-strength; null when the player was never compared or the estimate does not exist. */
  strength: number | null;
  /** Percentile-bootstrap bounds over comparisons. */
  low: number | null;
  high: number | null;
}

export interface BradleyTerryResult {
  players: BradleyTerryPlayer[];
  comparisons: number;
  pseudoTies: number;
  /** Resamples whose fit existed; the bounds are percentiles over these. */
  resamples: number;
  converged: boolean;
}

/**
 * Strengths with percentile-bootstrap intervals: the comparisons are resampled with replacement
 * (seeded), the model refitted on each resample, and each player's (1−c)/2 and (1+c)/2 type-7
 * percentiles reported, as bootstrapPercentile does for one statistic. Resamples whose estimate
 * does not exist are dropped (use `pseudoTies` to keep them).
 */
export function bradleyTerry(players: readonly string[], outcomes: readonly PairwiseOutcome[], options: BradleyTerryOptions & BootstrapOptions = {}): BradleyTerryResult {
  const { pseudoTies = 0, tolerance = 1e-8, maxIterations = 20_000, resamples = 2000, seed = DEFAULT_SEED, confidence = 0.95 } = options;
  checkConfidence(confidence);
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  const fit = fitBradleyTerry(players, outcomes, { pseudoTies, tolerance: Math.min(tolerance, 1e-10), maxIterations: Math.max(maxIterations, 100_000) });
  const replicates = new Map<string, number[]>(players.map((p) => [p, []]));
  let defined = 0;
  if (fit.strengths !== null && outcomes.length > 0) {
    const rng = createRng(seed);
    const scratch = outcomes.slice();
    for (let r = 0; r < resamples; r++) {
      for (let i = 0; i < outcomes.length; i++) scratch[i] = outcomes[randomInt(rng, outcomes.length)] as PairwiseOutcome;
      const refit = fitTally(tally(players, scratch, pseudoTies), tolerance, maxIterations);
      if (refit.strengths === null) continue;
      defined++;
      for (const [id, s] of refit.strengths) replicates.get(id)?.push(s);
    }
  }
  const tail = ((1 - confidence) / 2) * 100;
  return {
    players: players.map((id) => {
      const mine = outcomes.filter((o) => o.a === id || o.b === id);
      const won = mine.filter((o) => (o.a === id ? o.score === 1 : o.score === 0)).length;
      const ties = mine.filter((o) => o.score === 0.5).length;
      const reps = (replicates.get(id) ?? []).sort((x, y) => x - y);
      const strength = fit.strengths?.get(id) ?? null;
      return {
        id,
        n: mine.length,
        wins: won,
        ties,
        losses: mine.length - won - ties,
        strength,
        low: strength === null ? null : percentileSorted(reps, tail),
        high: strength === null ? null : percentileSorted(reps, 100 - tail),
      };
    }),
    comparisons: outcomes.length,
    pseudoTies,
    resamples: defined,
    converged: fit.converged,
  };
}

/** P(i preferred to j) from two log-strengths. */
export function preferenceProbability(strengthI: number, strengthJ: number): number {
  return 1 / (1 + Math.exp(strengthJ - strengthI));
}
