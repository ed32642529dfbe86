import type { PromptVariant } from "./sweep.js";
import { renderTemplate } from "./template.js";
import type { Suite, Task } from "./types.js";

/**
 * The prompt text of one task under one prompt variant: the variant's template (or the suite's),
 * after `fewShot` solved examples taken from the suite. Examples are the first tasks by id that
 * have a textual expected answer, never the task itself, so every task sees the same examples
 * but its own answer is never shown.
 */
export function promptText(suite: Suite, variant: PromptVariant, task: Task): string {
  const template = variant.template ?? suite.promptTemplate;
  const current = renderTemplate(template, task.vars);
  if (variant.fewShot === 0) return current;
  const shots = fewShotExamples(suite, variant.fewShot + 1)
    .filter((t) => t.id !== task.id)
    .slice(0, variant.fewShot)
    .map((t) => `${renderTemplate(template, t.vars)}${variant.answerSeparator}${String(t.expected)}`);
  return [...shots, current].join(variant.exampleSeparator);
}

const examplesCache = new WeakMap<Suite, Task[]>();

function fewShotExamples(suite: Suite, n: number): Task[] {
  let sorted = examplesCache.get(suite);
  if (!sorted) {
    sorted = suite.tasks
      .filter((t) => typeof t.expected === "string" || typeof t.expected === "number")
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    examplesCache.set(suite, sorted);
  }
  return sorted.slice(0, n);
}
