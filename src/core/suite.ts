import { validateScorer } from "../scorers/index.js";
import { canonicalJson, sha256Hex } from "./canonical.js";
import type { Criterion, Rubric } from "./rubric.js";
import { FieldReader, isRecord, parseConfig, Problems, describe } from "./config-doc.js";
import { templateVariables } from "./template.js";
import type { JsonValue, ScorerSpec, Suite, SuiteDefinition, Task } from "./types.js";

/**
 * Suites: parsing, validation and content hashing. Pure: the caller reads the files.
 * A suite is a directory with `suite.yaml` (the definition) and `tasks.jsonl` (one task a line).
 */

export const SUITE_FIELDS = ["name", "description", "prompt", "scorer", "maxTokens", "chatTemplate", "rubrics", "abstain"] as const;
export const TASK_FIELDS = ["id", "vars", "expected", "area", "tags", "scorer"] as const;

export interface SuiteSources {
  dir: string;
  suiteFile: string;
  suiteText: string;
  tasksFile: string;
  tasksText: string;
}

/** Parses and checks a whole suite; throws one error listing every problem, each with file, line and field. */
export function parseSuite(src: SuiteSources): Suite {
  const problems = new Problems("invalid-suite");
  const definition = parseDefinition(src, problems);
  const tasks = parseTasks(src, definition, problems);
  if (tasks.length === 0 && problems.list.length === 0) problems.add("the suite has no tasks", { file: src.tasksFile });
  problems.throwIfAny();
  return { ...definition, dir: src.dir, tasks, hash: suiteHash(definition, tasks) };
}

function parseDefinition(src: SuiteSources, problems: Problems): SuiteDefinition {
  const doc = parseConfig(src.suiteFile, src.suiteText);
  const fallback: SuiteDefinition = { name: "", description: "", promptTemplate: "", scorer: { type: "exact" }, maxTokens: 64, chatTemplate: "auto" };
  if (!isRecord(doc.value)) {
    problems.add("the suite file must be a mapping of fields (name, prompt, scorer, ...)", { file: src.suiteFile, line: 1 });
    return fallback;
  }
  const r = new FieldReader(doc, doc.value, [], problems);
  r.rejectUnknown(SUITE_FIELDS);
  const scorer = r.has("scorer") ? readScorer(r, "scorer") : { type: "exact" };
  const def: SuiteDefinition = {
    name: r.string("name") ?? "",
    description: r.string("description", "") ?? "",
    promptTemplate: r.string("prompt") ?? "",
    scorer: scorer ?? fallback.scorer,
    maxTokens: r.number("maxTokens", 64, { min: 1, integer: true }) ?? 64,
    chatTemplate: r.oneOf("chatTemplate", ["auto", "never", "always"] as const, "auto"),
  };
  if (def.name && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(def.name)) r.fail("name", "must be letters, digits, '.', '_' or '-'");
  if (r.has("prompt") && templateVariables(def.promptTemplate).length === 0) r.fail("prompt", "has no {{variable}} placeholder, so every task would get the same prompt");
  if (scorer) {
    // Expectation checks belong to each task; here only the options themselves are checked.
    for (const p of validateScorer(scorer, true).filter((p) => p.field !== "expected")) r.fail(`scorer.${p.field}`, p.message);
  }
  if (r.has("abstain")) {
    const patterns = r.stringList("abstain", []);
    for (const [i, p] of patterns.entries()) {
      try {
        new RegExp(p, "i");
      } catch (error) {
        r.fail(`abstain.${i}`, `not a valid regular expression: ${(error as Error).message}`);
      }
    }
    def.abstain = patterns;
  }
  if (r.has("rubrics")) {
    const rubrics = readRubrics(r);
    if (rubrics.length) def.rubrics = rubrics;
  }
  return def;
}

/**
 * rubrics: {name: [{name, scorer, weight, points, gate}, ...]}. A criterion's scorer is any scorer
 * that runs at scoring time, or "task" (the task's own). Model-graded scorers (judge, similarity)
 * grade the main score after generation and are not criteria yet.
 */
function readRubrics(r: FieldReader): Rubric[] {
  const raw = r.raw("rubrics");
  if (!isRecord(raw)) {
    r.fail("rubrics", "must map each rubric's name to its list of criteria");
    return [];
  }
  const rubrics: Rubric[] = [];
  for (const [name, list] of Object.entries(raw)) {
    const at = `rubrics.${name}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) r.fail(at, "a rubric name is letters, digits, '.', '_' or '-'");
    if (!Array.isArray(list) || list.length === 0) {
      r.fail(at, "must be a non-empty list of criteria: {name, scorer, weight, points, gate}");
      continue;
    }
    const criteria: Criterion[] = [];
    list.forEach((c: unknown, i: number) => {
      const where = `${at}.${i}`;
      if (!isRecord(c)) return r.fail(where, "a criterion is a mapping: {name, scorer, weight, points, gate}");
      for (const k of Object.keys(c)) if (!["name", "scorer", "weight", "points", "gate", "expected"].includes(k)) r.fail(`${where}.${k}`, "unknown field; known: name, scorer, weight, points, gate, expected");
      const scorer = c.scorer === "task" ? "task" : typeof c.scorer === "string" ? { type: c.scorer } : isRecord(c.scorer) && typeof c.scorer.type === "string" ? (c.scorer as ScorerSpec) : undefined;
      if (!scorer) return r.fail(`${where}.scorer`, 'is required: a scorer name, a mapping with a "type", "task" (the task\'s own scorer) or "people" (blind ratings)');
      // "people": the mean of people's 1–5 ratings of the output (heldout rate), known once rated.
      if (scorer !== "task" && scorer.type !== "people") for (const p of validateScorer(scorer, true).filter((p) => p.field !== "expected")) r.fail(`${where}.scorer.${p.field}`, p.message);
      const num = (k: string, fallback: number) => {
        const v = c[k];
        if (v === undefined) return fallback;
        if (typeof v !== "number" || !(v >= 0)) r.fail(`${where}.${k}`, "must be a number ≥ 0");
        return typeof v === "number" && v >= 0 ? v : fallback;
      };
      const points = num("points", 0);
      const weight = num("weight", c.points === undefined ? 1 : 0);
      if (c.gate !== undefined && typeof c.gate !== "boolean") r.fail(`${where}.gate`, "must be true or false");
      criteria.push({ name: typeof c.name === "string" && c.name ? c.name : `criterion ${i + 1}`, scorer, weight, points, gate: c.gate === true, ...(c.expected !== undefined ? { expected: c.expected as JsonValue } : {}) });
    });
    rubrics.push({ name, criteria });
  }
  return rubrics;
}

function readScorer(r: FieldReader, key: string): ScorerSpec | undefined {
  const v = r.raw(key);
  if (typeof v === "string") return { type: v };
  if (!isRecord(v) || typeof v.type !== "string") {
    r.fail(key, `must be a scorer name or a mapping with a "type", got ${describe(v)}`);
    return undefined;
  }
  return v as ScorerSpec;
}

function parseTasks(src: SuiteSources, def: SuiteDefinition, problems: Problems): Task[] {
  const tasks: Task[] = [];
  const firstLineOfId = new Map<string, number>();
  const needed = templateVariables(def.promptTemplate);
  const lines = src.tasksText.split("\n");
  lines.forEach((text, index) => {
    const line = index + 1;
    if (text.trim() === "") return;
    const at = (field?: string) => ({ file: src.tasksFile, line, field });
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      problems.add(`not valid JSON: ${(e as Error).message}`, at());
      return;
    }
    if (!isRecord(value)) {
      problems.add(`a task must be a JSON object, got ${describe(value)}`, at());
      return;
    }
    for (const key of Object.keys(value)) {
      if (!(TASK_FIELDS as readonly string[]).includes(key)) problems.add(`unknown field; known fields: ${TASK_FIELDS.join(", ")}`, at(key));
    }
    const id = value.id;
    if (typeof id !== "string" || id.trim() === "") {
      problems.add(`"id" must be a non-empty string, got ${describe(id)}`, at("id"));
      return;
    }
    const seen = firstLineOfId.get(id);
    if (seen !== undefined) problems.add(`duplicate id "${id}" (first used on line ${seen})`, at("id"));
    else firstLineOfId.set(id, line);

    const vars: Record<string, string> = {};
    if (value.vars !== undefined) {
      if (!isRecord(value.vars)) problems.add(`"vars" must be an object of strings, got ${describe(value.vars)}`, at("vars"));
      else
        for (const [k, v] of Object.entries(value.vars)) {
          if (typeof v === "string") vars[k] = v;
          else if (typeof v === "number" || typeof v === "boolean") vars[k] = String(v);
          else problems.add(`must be a string, got ${describe(v)}`, at(`vars.${k}`));
        }
    }
    for (const name of needed) if (!Object.hasOwn(vars, name)) problems.add(`the prompt template uses {{${name}}} but this task does not set it`, at(`vars.${name}`));

    if (value.area !== undefined && typeof value.area !== "string") problems.add(`must be a string, got ${describe(value.area)}`, at("area"));
    if (value.tags !== undefined && (!Array.isArray(value.tags) || value.tags.some((t) => typeof t !== "string")))
      problems.add(`must be a list of strings`, at("tags"));

    let scorer: ScorerSpec | undefined;
    if (value.scorer !== undefined) {
      if (typeof value.scorer === "string") scorer = { type: value.scorer };
      else if (isRecord(value.scorer) && typeof value.scorer.type === "string") scorer = value.scorer as ScorerSpec;
      else problems.add(`must be a scorer name or an object with a "type"`, at("scorer"));
    }
    const expected = value.expected as JsonValue | undefined;
    for (const p of validateScorer(scorer ?? def.scorer, expected !== undefined, expected)) {
      // The suite's own scorer options were checked once, against suite.yaml; here only what this task adds.
      if (!scorer && p.field !== "expected") continue;
      problems.add(p.message, at(p.field === "expected" ? "expected" : `scorer.${p.field}`));
    }
    const task: Task = { id, vars, line };
    if (expected !== undefined) task.expected = expected;
    if (typeof value.area === "string") task.area = value.area;
    if (Array.isArray(value.tags)) task.tags = value.tags as string[];
    if (scorer) task.scorer = scorer;
    tasks.push(task);
  });
  return tasks;
}

/** What a task contributes to the suite hash: its content, never its line number. */
export function taskContent(task: Task): unknown {
  return { id: task.id, vars: task.vars, expected: task.expected, area: task.area, tags: task.tags, scorer: task.scorer };
}

export function definitionContent(def: SuiteDefinition): Record<string, unknown> {
  return {
    name: def.name,
    description: def.description,
    prompt: def.promptTemplate,
    scorer: def.scorer,
    maxTokens: def.maxTokens,
    chatTemplate: def.chatTemplate,
    // Only when present: suites without rubrics or abstain patterns keep the hash they always had.
    ...(def.rubrics ? { rubrics: def.rubrics } : {}),
    ...(def.abstain ? { abstain: def.abstain } : {}),
  };
}

export function taskHash(task: Task): string {
  return sha256Hex(canonicalJson(taskContent(task)));
}

/**
 * sha256 over the normalised content: the definition and the tasks in id order, each as canonical
 * JSON. Key order, whitespace, blank lines and task order do not change it; any value does.
 */
export function suiteHash(def: SuiteDefinition, tasks: readonly Task[]): string {
  const sorted = [...tasks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sha256Hex(canonicalJson({ definition: definitionContent(def), tasks: sorted.map(taskContent) }));
}
