/**
 * A bounded pool of sandboxed executions: at most `limit` child process trees at once, the rest
 * queued in arrival order. The default leaves one core to generation: max(1, cores − 1), so one at
 * a time on a 2-core machine. `HELDOUT_CODE_CONCURRENCY` overrides it.
 */
import { availableParallelism } from "node:os";
import { runSandboxed, type SandboxOptions, type SandboxResult } from "./run.js";

export function defaultConcurrency(): number {
  const env = Number(process.env.HELDOUT_CODE_CONCURRENCY);
  if (Number.isInteger(env) && env >= 1) return env;
  return Math.max(1, availableParallelism() - 1);
}

export class ExecutionPool {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number = defaultConcurrency()) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`pool limit must be a whole number ≥ 1, got ${limit}`);
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `job` once a slot is free; the slot is released however it ends. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next job, so `active` never dips below the limit while jobs wait.
      if (next) next();
      else this.active--;
    }
  }

  execute(options: SandboxOptions): Promise<SandboxResult> {
    return this.run(() => runSandboxed(options));
  }
}

let shared: ExecutionPool | undefined;

/** The process's (or worker thread's) pool, created on first use. */
export function sharedPool(): ExecutionPool {
  shared ??= new ExecutionPool();
  return shared;
}
