import { canonicalJson } from "./canonical.js";
import { definitionContent, taskHash } from "./suite.js";
import type { SuiteSplit } from "./split.js";
import type { Suite } from "./types.js";

/**
 * A suite's lock records what was frozen: the content hash, the task count, a hash per task and
 * the definition itself, so a mismatch can say exactly what changed, by task id and field.
 */
export interface SuiteLock {
  lockVersion: 1;
  suite: string;
  hash: string;
  taskCount: number;
  frozenAt: string;
  definition: Record<string, unknown>;
  tasks: Record<string, string>;
  /** A sealed held-out split (`heldout freeze --split`): metadata, not suite content (the hash does not cover it). */
  split?: SuiteSplit;
}

export interface LockDiff {
  added: string[];
  removed: string[];
  edited: string[];
  definitionFields: string[];
}

export function makeLock(suite: Suite, frozenAt: Date): SuiteLock {
  const tasks: Record<string, string> = {};
  for (const t of suite.tasks) tasks[t.id] = taskHash(t);
  return {
    lockVersion: 1,
    suite: suite.name,
    hash: suite.hash,
    taskCount: suite.tasks.length,
    frozenAt: frozenAt.toISOString(),
    definition: definitionContent(suite),
    tasks,
  };
}

export function diffLock(lock: SuiteLock, suite: Suite): LockDiff {
  const now = makeLock(suite, new Date(0));
  const ids = (o: Record<string, string>) => Object.keys(o);
  const definitionFields = [...new Set([...Object.keys(lock.definition), ...Object.keys(now.definition)])].filter(
    (k) => canonicalJson(lock.definition[k]) !== canonicalJson(now.definition[k]),
  );
  return {
    added: ids(now.tasks).filter((id) => !(id in lock.tasks)),
    removed: ids(lock.tasks).filter((id) => !(id in now.tasks)),
    edited: ids(now.tasks).filter((id) => id in lock.tasks && lock.tasks[id] !== now.tasks[id]),
    definitionFields,
  };
}

/** One readable paragraph: "2 tasks added (a, b); 1 edited (c); definition changed: prompt". */
export function describeDiff(diff: LockDiff): string {
  const list = (ids: string[]) => (ids.length > 8 ? `${ids.slice(0, 8).join(", ")}, … ${ids.length - 8} more` : ids.join(", "));
  const parts: string[] = [];
  if (diff.added.length) parts.push(`${diff.added.length} task(s) added (${list(diff.added)})`);
  if (diff.removed.length) parts.push(`${diff.removed.length} removed (${list(diff.removed)})`);
  if (diff.edited.length) parts.push(`${diff.edited.length} edited (${list(diff.edited)})`);
  if (diff.definitionFields.length) parts.push(`suite definition changed: ${diff.definitionFields.join(", ")}`);
  return parts.join("; ") || "the lock's hash does not match although no task differs (the lock file was edited?)";
}
