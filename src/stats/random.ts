/**
 * A small seeded PRNG so every bootstrap and simulation in heldout is reproducible: the same seed
 * gives the same resamples on every machine and Node version (Math.random cannot be seeded).
 *
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit state, period 2^32, passes gjrand/PractRand
 * to a size far beyond what a bootstrap draws (2,000 resamples of 100,000 tasks is 2·10^8 draws).
 * Its quality is ample for resampling; it is not for cryptography.
 */
export type Rng = () => number;

export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  // Fractional or huge seeds are folded to 32 bits so that any finite number is a valid seed.
  let state = Math.trunc(seed) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in [0, n): floor of a uniform in [0, 1) scaled by n (n is far below 2^32). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** The seed used when a caller gives none: results stay reproducible by default. */
export const DEFAULT_SEED = 20240601;
