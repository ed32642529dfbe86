/** Piscina worker: scoring runs here so it never stalls the orchestrator's event loop. */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { scoreOutput } from "../scorers/index.js";

export interface ScoreTask {
  spec: ScorerSpec;
  output: string;
  expected: JsonValue | undefined;
}

/** Scores a batch: one message per batch, not per record, keeps the hand-off cost negligible. */
export default function score(tasks: ScoreTask[]): Score[] {
  return tasks.map((t) => scoreOutput(t.spec, t.output, t.expected));
}
