import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { HeldoutError } from "../core/errors.js";
import type { SuiteLock } from "../core/lock.js";
import type { Suite } from "../core/types.js";
import { writeLock } from "../store/suite-files.js";

export const PROVENANCE_FILE = "provenance.json";

export interface ImportedFiles {
  suiteYaml: string;
  tasksJsonl: string;
  /** Completed with the lock's hash before it is written. */
  provenance: Record<string, unknown>;
}

/** Refuses an existing target unless forced; called before any work so a refusal costs nothing. */
export function checkTarget(outDir: string, force: boolean): void {
  if (existsSync(outDir) && !force) throw new HeldoutError("target-exists", `already exists; --force replaces it`, { file: outDir });
}

/**
 * Writes the suite all at once: suite.yaml, tasks.jsonl, the lock (through writeLock, the one place
 * suites are frozen) and provenance.json go into a temporary folder beside the target, which is
 * then renamed into place. A failure on the way removes the temporary folder, so there is never a
 * half-written suite; with `force`, an existing suite is replaced only once the new one is complete.
 */
export function writeImportedSuite(outDir: string, suite: Suite, files: ImportedFiles, force: boolean): SuiteLock {
  const target = resolve(outDir);
  checkTarget(outDir, force);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const temp = mkdtempSync(join(parent, `.${basename(target)}.import-`));
  let backup: string | undefined;
  try {
    writeFileSync(join(temp, "suite.yaml"), files.suiteYaml);
    writeFileSync(join(temp, "tasks.jsonl"), files.tasksJsonl);
    const lock = writeLock({ ...suite, dir: temp });
    writeFileSync(join(temp, PROVENANCE_FILE), `${JSON.stringify({ ...files.provenance, lock: { file: "suite.lock.json", hash: lock.hash, frozenAt: lock.frozenAt } }, null, 2)}\n`);
    if (existsSync(target)) {
      backup = `${temp}.replaced`;
      renameSync(target, backup);
    }
    renameSync(temp, target);
    if (backup) rmSync(backup, { recursive: true, force: true });
    return lock;
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    if (backup && existsSync(backup) && !existsSync(target)) renameSync(backup, target);
    throw error;
  }
}
