import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { describeDiff, diffLock, makeLock, type SuiteLock } from "../core/lock.js";
import type { SuiteSplit } from "../core/split.js";
import { parseSuite } from "../core/suite.js";
import type { Suite } from "../core/types.js";

export const LOCK_FILE = "suite.lock.json";
/** One JSON line per run on a sealed split's test part (`heldout run --split test --unseal`). */
export const SEAL_LOG_FILE = "seal-log.jsonl";
const SUITE_FILES = ["suite.yaml", "suite.yml", "suite.json"];

function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel || ".";
}

/** Reads `dir/suite.yaml` and `dir/tasks.jsonl` and parses them (all problems reported at once). */
export function loadSuite(dir: string): Suite {
  if (!existsSync(dir)) throw new HeldoutError("suite-not-found", `suite directory not found`, { file: display(dir) });
  const suitePath = SUITE_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
  if (!suitePath) throw new HeldoutError("suite-not-found", `no suite file: expected one of ${SUITE_FILES.join(", ")}`, { file: display(dir) });
  const tasksPath = join(dir, "tasks.jsonl");
  if (!existsSync(tasksPath)) throw new HeldoutError("suite-not-found", `no tasks file`, { file: display(tasksPath) });
  return parseSuite({
    dir,
    suiteFile: display(suitePath),
    suiteText: readFileSync(suitePath, "utf8"),
    tasksFile: display(tasksPath),
    tasksText: readFileSync(tasksPath, "utf8"),
  });
}

export function readLock(dir: string): SuiteLock | undefined {
  const path = join(dir, LOCK_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as SuiteLock;
  } catch (e) {
    throw new HeldoutError("invalid-lock", `lock file is not valid JSON (${(e as Error).message}); re-create it with heldout freeze`, { file: display(path) });
  }
}

export function writeLock(suite: Suite, split?: SuiteSplit): SuiteLock {
  const lock: SuiteLock = { ...makeLock(suite, new Date()), ...(split ? { split } : {}) };
  writeFileSync(join(suite.dir, LOCK_FILE), `${JSON.stringify(lock, null, 2)}\n`);
  return lock;
}

export type FreezeState = { state: "frozen"; lock: SuiteLock } | { state: "unfrozen"; reason: string };

/** Whether the suite on disk is what its lock froze, and if not, what changed. */
export function checkFrozen(suite: Suite): FreezeState {
  const lock = readLock(suite.dir);
  if (!lock) return { state: "unfrozen", reason: `it has no ${LOCK_FILE}; freeze it with: heldout freeze ${display(suite.dir)}` };
  if (lock.hash === suite.hash) return { state: "frozen", lock };
  return { state: "unfrozen", reason: `its content no longer matches ${display(join(suite.dir, LOCK_FILE))}: ${describeDiff(diffLock(lock, suite))}` };
}

/** One look at a sealed split's test part: what ran, on what, and which dev runs chose its settings. */
export interface SealLogEntry {
  time: string;
  runId: string;
  resultsDir: string;
  split: "test" | "all";
  splitHash: string;
  models: { id: string; file: string | null; sha256: string }[];
  cells: { id: string; modelId: string; label: Record<string, string>; settings: unknown }[];
  command: string[];
  /** Dev run ids given with --chosen-on; null when none was given. */
  chosenOn: string[] | null;
}

export function appendSealLog(dir: string, entry: SealLogEntry): void {
  appendFileSync(join(dir, SEAL_LOG_FILE), `${JSON.stringify(entry)}\n`);
}

export function readSealLog(dir: string): SealLogEntry[] {
  const path = join(dir, SEAL_LOG_FILE);
  if (!existsSync(path)) return [];
  const entries: SealLogEntry[] = [];
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((l, i) => {
      if (l.trim() === "") return;
      try {
        entries.push(JSON.parse(l) as SealLogEntry);
      } catch (e) {
        throw new HeldoutError("invalid-seal-log", `not valid JSON (${(e as Error).message})`, { file: display(path), line: i + 1 });
      }
    });
  return entries;
}
