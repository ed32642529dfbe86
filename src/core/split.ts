import { canonicalJson, sha256Hex } from "./canonical.js";
import { HeldoutError } from "./errors.js";
import { createRng } from "../stats/random.js";
import type { Suite } from "./types.js";

/**
 * A sealed held-out split: each task of a frozen suite belongs to one named part (`dev`, `test`),
 * drawn per area with a seed so each area keeps its share. It lives in the lock as metadata: the
 * suite hash does not change, but the split has its own hash (over seed, fractions and the
 * assignment) that run manifests record, so a changed split is detected.
 */
export interface SuiteSplit {
  seed: number;
  /** Part name → its share of each area, e.g. { dev: 0.3, test: 0.7 }. */
  fractions: Record<string, number>;
  /** sha256 of the canonical { seed, fractions, tasks }. */
  hash: string;
  /** Task id → part name. */
  tasks: Record<string, string>;
}

/** The split a run used, as its manifest and the seal log record it. */
export interface RunSplit {
  name: "dev" | "test" | "all";
  seed: number;
  hash: string;
  unsealed: boolean;
  /** Dev run ids whose settings were chosen before this look at test (`--chosen-on`); null if none given. */
  chosenOn: string[] | null;
}

export const SPLIT_NAMES = ["dev", "test", "all"] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** `dev=0.3,test=0.7` → { dev: 0.3, test: 0.7 }; shares must be positive and sum to 1, and name dev and test. */
export function parseSplitSpec(text: string): Record<string, number> {
  const fractions: Record<string, number> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z][a-z0-9_-]*)=([0-9]*\.?[0-9]+)$/.exec(part);
    if (!m) throw new HeldoutError("invalid-option", `--split: "${part}" is not NAME=SHARE (e.g. dev=0.3,test=0.7)`);
    const name = m[1] as string;
    const share = Number(m[2]);
    if (name in fractions) throw new HeldoutError("invalid-option", `--split: "${name}" is given twice`);
    if (!(share > 0 && share < 1)) throw new HeldoutError("invalid-option", `--split: the share of "${name}" must be between 0 and 1, got ${m[2]}`);
    fractions[name] = share;
  }
  const names = Object.keys(fractions);
  if (names.length !== 2 || !("dev" in fractions) || !("test" in fractions)) throw new HeldoutError("invalid-option", `--split must name exactly dev and test (e.g. dev=0.3,test=0.7), got "${text}"`);
  const sum = names.reduce((s, n) => s + (fractions[n] as number), 0);
  if (Math.abs(sum - 1) > 1e-9) throw new HeldoutError("invalid-option", `--split: the shares must sum to 1, they sum to ${Number(sum.toFixed(6))}`);
  return fractions;
}

export const NO_AREA = "(no area)";

/**
 * Stratified by area: within each area the tasks (in id order) are shuffled with the seed, and
 * each part gets round(share × area size) tasks by largest remainder, so every area's share of a
 * part is within one task of the asked share. Same suite, fractions and seed → the same split.
 */
export function makeSplit(suite: Suite, fractions: Record<string, number>, seed: number): SuiteSplit {
  const byArea = new Map<string, string[]>();
  for (const t of suite.tasks) {
    const area = t.area ?? NO_AREA;
    const list = byArea.get(area);
    if (list) list.push(t.id);
    else byArea.set(area, [t.id]);
  }
  const names = Object.keys(fractions).sort();
  const tasks: Record<string, string> = {};
  for (const area of [...byArea.keys()].sort()) {
    const ids = [...(byArea.get(area) as string[])].sort();
    // Each area its own stream (seed and area name), so adding an area does not reshuffle the others.
    const rng = createRng((seed ^ Number.parseInt(sha256Hex(area).slice(0, 8), 16)) >>> 0);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
    }
    const exact = names.map((n) => (fractions[n] as number) * ids.length);
    const counts = exact.map(Math.floor);
    let left = ids.length - counts.reduce((a, b) => a + b, 0);
    const order = names.map((_, i) => i).sort((a, b) => (exact[b] as number) - (counts[b] as number) - ((exact[a] as number) - (counts[a] as number)) || a - b);
    for (const i of order) {
      if (left <= 0) break;
      counts[i] = (counts[i] as number) + 1;
      left--;
    }
    let at = 0;
    names.forEach((n, i) => {
      for (const id of ids.slice(at, at + (counts[i] as number))) tasks[id] = n;
      at += counts[i] as number;
    });
  }
  return { seed, fractions, hash: splitHash(seed, fractions, tasks), tasks };
}

export function splitHash(seed: number, fractions: Record<string, number>, tasks: Record<string, string>): string {
  return sha256Hex(canonicalJson({ seed, fractions, tasks }));
}

/** Whether the split in a lock is what its hash says (not edited by hand) and covers exactly the suite's tasks. */
export function checkSplit(split: SuiteSplit, suite: Suite): string | null {
  if (splitHash(split.seed, split.fractions, split.tasks) !== split.hash) return "the split in the lock does not match its hash (edited by hand?); re-create it with heldout freeze --split ... --seed ...";
  const ids = new Set(suite.tasks.map((t) => t.id));
  const missing = suite.tasks.filter((t) => !(t.id in split.tasks)).length;
  const extra = Object.keys(split.tasks).filter((id) => !ids.has(id)).length;
  if (missing || extra) return `the split does not cover the suite's tasks (${missing} without a part, ${extra} not in the suite); re-freeze the suite`;
  return null;
}

/** The task ids of a part; `all` is every task. */
export function splitTaskIds(split: SuiteSplit, suite: Suite, name: SplitName): string[] {
  if (name === "all") return suite.tasks.map((t) => t.id);
  return suite.tasks.filter((t) => split.tasks[t.id] === name).map((t) => t.id);
}

/** Part → area → count, for `seal-status` and the freeze message. */
export function splitSizes(split: SuiteSplit, suite: Suite): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const n of Object.keys(split.fractions).sort()) out.set(n, new Map());
  for (const t of suite.tasks) {
    const part = split.tasks[t.id];
    if (part === undefined) continue;
    const m = out.get(part) ?? new Map<string, number>();
    out.set(part, m);
    const area = t.area ?? NO_AREA;
    m.set(area, (m.get(area) ?? 0) + 1);
  }
  return out;
}
