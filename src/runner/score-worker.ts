/** Piscina worker: scoring runs here so it never stalls the orchestrator's event loop. */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { scoreOutputAsync } from "../scorers/index.js";

export interface ScoreTask {
  spec: ScorerSpec;
  output: string;
  expected: JsonValue | undefined;
}

/**
 * Scores a batch: one message per batch, not per record, keeps the hand-off cost negligible.
 * Asynchronous for the `code` scorer, whose executions run as child processes on a bounded pool.
 */
export default function score(tasks: ScoreTask[]): Promise<Score[]> {
  return Promise.all(tasks.map((t) => scoreOutputAsync(t.spec, t.output, t.expected)));
}
