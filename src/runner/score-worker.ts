/** Piscina worker: scoring runs here so it never stalls the orchestrator's event loop. */
import type { JsonValue, Score, ScorerSpec } from "../core/types.js";
import { scoreOutput } from "../scorers/index.js";

export interface ScoreTask {
  spec: ScorerSpec;
  output: string;
  expected: JsonValue | undefined;
}

export default function score(task: ScoreTask): Score {
  return scoreOutput(task.spec, task.output, task.expected);
}
