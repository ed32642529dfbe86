import { fork } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DivergenceResult, ReferenceResult } from "./divergence-run.js";
import type { DivergenceJob } from "./divergence-worker.js";

/** Runs a divergence job in a child process and returns its result; a crash becomes an Error with the child's last stderr lines. */
export function runDivergenceJob(job: Extract<DivergenceJob, { kind: "compare" }>, jobFile: string): Promise<DivergenceResult>;
export function runDivergenceJob(job: Exclude<DivergenceJob, { kind: "compare" }>, jobFile: string): Promise<ReferenceResult & { texts: number; skipped: number }>;
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
      const tail = stderr.trim().split("\n").slice(-3).join(" | ");
      reject(new Error(answer?.error ?? `the scoring process died (${signal ? `signal ${signal}` : `exit code ${code}`})${tail ? `: ${tail}` : ""}`));
    });
  });
}
