import { fork } from "node:child_process";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { StoppedBySignal } from "../core/errors.js";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DivergenceStats } from "../core/divergence.js";
import type { DivergenceResult, ReferenceResult } from "./divergence-run.js";
import type { DivergenceJob } from "./divergence-worker.js";

/**
 * Runs a divergence job in a child process and returns its result; a crash becomes an Error with
 * the child's last stderr lines, a child stopped by SIGINT or SIGTERM a StoppedBySignal.
 */
export function runDivergenceJob(job: Extract<DivergenceJob, { kind: "compare" }>, jobFile: string): Promise<DivergenceResult>;
export function runDivergenceJob(job: Extract<DivergenceJob, { kind: "compare-base" }>, jobFile: string): Promise<DivergenceStats & { windowMeans: number[] }>;
export function runDivergenceJob(job: Exclude<DivergenceJob, { kind: "compare" | "compare-base" }>, jobFile: string): Promise<ReferenceResult & { texts: number; skipped: number }>;
export function runDivergenceJob(job: DivergenceJob, jobFile: string): Promise<unknown> {
  writeFileSync(jobFile, JSON.stringify(job));
  const script = fileURLToPath(new URL("./divergence-worker.js", import.meta.url));
  return new Promise((resolve, reject) => {
    const child = fork(script, [jobFile], { stdio: ["ignore", "ignore", "pipe", "ipc"], serialization: "json" });
    let stderr = "";
    let answer: { ok: boolean; result?: unknown; error?: string } | undefined;
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on("message", (m: { ok: boolean; result?: unknown; error?: string }) => {
      answer = m;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      rmSync(jobFile, { force: true });
      if (answer?.ok) return resolve(answer.result);
      if (signal === "SIGINT" || signal === "SIGTERM") return reject(new StoppedBySignal(`the scoring process was stopped (${signal})`));
      const tail = stderr.trim().split("\n").slice(-3).join(" | ");
      reject(new Error(answer?.error ?? `the scoring process died (${signal ? `signal ${signal}` : `exit code ${code}`})${tail ? `: ${tail}` : ""}`));
    });
  });
}

/**
 * Scratch files (reference distributions can reach gigabytes) are named `<what>-<pid>.<ext>`; a
 * sweep quit hard (a second Ctrl-C) cannot delete its own, so the next sweep deletes those whose
 * process is gone.
 */
export function removeStaleScratch(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^(?:reference|texts|job|crosscheck(?:-job)?)-(\d+)\.(?:f32|json|txt|kld)$/.exec(name);
    if (m && !alive(Number(m[1]))) rmSync(join(dir, name), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
