import { createRng, randomInt, type Rng } from "../stats/random.js";

/**
 * Stratified sampling by area with a seed. Pure.
 *
 * Every area gets the same share of N (balanced within one task when N does not divide evenly: the
 * extra tasks go to areas drawn with the seed). An area with fewer items than its share gives all it
 * has and the rest is shared among the others, again evenly ("water filling"). Within an area the
 * tasks are a uniform draw without replacement (a partial Fisher–Yates shuffle), so the same items,
 * N and seed always give the same sample.
 */

export interface AreaAllocation {
  area: string;
  available: number;
  take: number;
}

export interface Allocation {
  areas: AreaAllocation[];
  /** Areas that had fewer items than an even share: all of theirs were taken. */
  short: string[];
  /** Fewer items than N in all: every item was taken. */
  tookAll: boolean;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** How many items each area gives to a sample of n. */
export function allocate(available: ReadonlyMap<string, number>, n: number, rng: Rng): Allocation {
  const names = [...available.keys()].sort(byName);
  const total = names.reduce((s, a) => s + (available.get(a) ?? 0), 0);
  const take = new Map<string, number>();
  if (n >= total) {
    for (const a of names) take.set(a, available.get(a) ?? 0);
    return { areas: names.map((a) => ({ area: a, available: available.get(a) ?? 0, take: available.get(a) ?? 0 })), short: [], tookAll: true };
  }
  // Water filling: areas at or below an even share of what is left give all they have, until
  // every remaining area has more than its share. Since n < total, some area always remains.
  let remaining = n;
  let open = names;
  for (;;) {
    const share = Math.floor(remaining / open.length);
    const under = open.filter((a) => (available.get(a) ?? 0) <= share);
    if (under.length === 0) break;
    for (const a of under) {
      take.set(a, available.get(a) ?? 0);
      remaining -= available.get(a) ?? 0;
    }
    open = open.filter((a) => !under.includes(a));
  }
  const base = Math.floor(remaining / open.length);
  const extra = remaining - base * open.length;
  for (const a of open) take.set(a, base);
  // Every open area has more than `base` items, so any of them can give one more.
  for (const a of drawWithoutReplacement(open, extra, rng)) take.set(a, (take.get(a) ?? 0) + 1);
  const short = names.filter((a) => !open.includes(a) && (take.get(a) ?? 0) < base);
  return { areas: names.map((a) => ({ area: a, available: available.get(a) ?? 0, take: take.get(a) ?? 0 })), short: short.sort(byName), tookAll: false };
}

/** k distinct elements of a list, uniformly (partial Fisher–Yates on a copy); order of the draw. */
export function drawWithoutReplacement<T>(list: readonly T[], k: number, rng: Rng): T[] {
  const a = [...list];
  const m = Math.min(k, a.length);
  for (let i = 0; i < m; i++) {
    const j = i + randomInt(rng, a.length - i);
    const t = a[i] as T;
    a[i] = a[j] as T;
    a[j] = t;
  }
  return a.slice(0, m);
}

/**
 * A stratified sample of n items by area. Areas in name order, items of an area in their given
 * order; the result keeps the given order of items.
 */
export function stratifiedSample<T>(items: readonly T[], areaOf: (item: T) => string, n: number, seed: number): { sample: T[]; allocation: Allocation } {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`the sample size must be a whole number ≥ 1, got ${n}`);
  const rng = createRng(seed);
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => {
    const a = areaOf(item);
    const g = groups.get(a);
    if (g) g.push(i);
    else groups.set(a, [i]);
  });
  const allocation = allocate(new Map([...groups].map(([a, g]) => [a, g.length])), n, rng);
  const chosen: number[] = [];
  for (const { area, take } of allocation.areas) chosen.push(...drawWithoutReplacement(groups.get(area) ?? [], take, rng));
  chosen.sort((a, b) => a - b);
  return { sample: chosen.map((i) => items[i] as T), allocation };
}
