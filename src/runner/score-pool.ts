import { Piscina } from "piscina";
import type { Score } from "../core/types.js";
import type { ScoreTask } from "./score-worker.js";

/**
 * Scoring, off the orchestrator's thread. One worker: the engine host needs the other cores, and
 * the built-in scorers take microseconds; a slow scorer (a large JSON document, a heavy regex)
 * then delays only the writing of its own record, never generation.
 */
export class ScorePool {
  private readonly pool = new Piscina<ScoreTask[], Score[]>({
    filename: new URL("./score-worker.js", import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    // Batches waiting on code executions (child processes) overlap; the sandbox pool bounds them.
    concurrentTasksPerWorker: 8,
    idleTimeout: 60_000,
  });

  score(tasks: ScoreTask[]): Promise<Score[]> {
    return tasks.length === 0 ? Promise.resolve([]) : this.pool.run(tasks);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
