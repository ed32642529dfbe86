import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SHARED_MODELS = resolve(ROOT, "../shared/models");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would, from the repository root. */
export function heldout(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/heldout.js"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix = "heldout-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A copy of a shipped suite in a temp folder, to edit without touching tasks/. */
export function copySuite(name: string): string {
  const dir = join(tempDir(), name);
  cpSync(join(ROOT, "tasks", name), dir, { recursive: true });
  return dir;
}

export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}
