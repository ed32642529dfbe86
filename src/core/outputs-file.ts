import { Problems } from "./config-doc.js";

/**
 * Generations made elsewhere (an API model, a coding agent, people), for `backend: outputs`: a
 * JSONL file, one line per generation, keyed by task id (and sample, default 0). Pure: text in,
 * outputs or every problem at once (file, line, field) out.
 *
 *   {"taskId": "add-001", "output": "61"}
 *   {"taskId": "add-001", "sample": 1, "output": "62", "completionTokens": 2, "promptTokens": 8}
 */
export interface ExternalOutput {
  taskId: string;
  sample: number;
  output: string;
  /** Token counts when the producer reported them (an API's usage); else 0 and unknown. */
  promptTokens: number | null;
  completionTokens: number | null;
  line: number;
}

const FIELDS = ["taskId", "sample", "output", "promptTokens", "completionTokens"];

export function parseOutputsFile(file: string, text: string): Map<string, ExternalOutput> {
  const problems = new Problems("invalid-outputs");
  const out = new Map<string, ExternalOutput>();
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      problems.add(`not valid JSON (${(error as Error).message})`, { file, line });
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.add("each line must be a JSON object {taskId, output}", { file, line });
      return;
    }
    const v = value as Record<string, unknown>;
    for (const k of Object.keys(v)) if (!FIELDS.includes(k)) problems.add(`unknown field; known: ${FIELDS.join(", ")}`, { file, line, field: k });
    const count = (k: string): number | null => {
      if (v[k] === undefined) return null;
      if (typeof v[k] === "number" && Number.isInteger(v[k]) && (v[k] as number) >= 0) return v[k] as number;
      problems.add("must be a whole number ≥ 0", { file, line, field: k });
      return null;
    };
    if (typeof v.taskId !== "string" || v.taskId === "") problems.add("is required: the task's id", { file, line, field: "taskId" });
    if (typeof v.output !== "string") problems.add("is required: the generated text (a string; empty for no answer)", { file, line, field: "output" });
    const sample = count("sample") ?? 0;
    const entry: ExternalOutput = { taskId: String(v.taskId), sample, output: typeof v.output === "string" ? v.output : "", promptTokens: count("promptTokens"), completionTokens: count("completionTokens"), line };
    const key = outputKey(entry.taskId, sample);
    const earlier = out.get(key);
    if (earlier) problems.add(`a second output for task "${entry.taskId}" sample ${sample} (the first is on line ${earlier.line})`, { file, line, field: "taskId" });
    else out.set(key, entry);
  });
  problems.throwIfAny();
  return out;
}

export const outputKey = (taskId: string, sample: number) => `${taskId}\u0000${sample}`;
