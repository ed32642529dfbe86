import type { LoadedInputs } from "../runner/inputs.js";
import { promptText } from "../core/prompt.js";

/**
 * The dry run: what a run would do, from the inputs alone (no model is loaded). Prompt tokens are
 * estimated at 4 characters a token (a rough rule for English and code; exact counts need the
 * model's tokenizer); completion tokens are bounded by maxTokens.
 */
export function dryRunText(inputs: LoadedInputs): string {
  const { suite, cells, swept } = inputs;
  const columns = swept.filter((p) => p !== "model");
  const rows = cells.map((c) => [c.id, c.modelId, ...columns.map((p) => c.label[p] ?? ""), String(c.settings.samples), String(suite.tasks.length * c.settings.samples)]);
  const header = ["cell", "model", ...columns, "samples", "generations"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) => r.map((s, i) => s.padEnd(widths[i] as number)).join("  ");
  let generations = 0;
  let promptChars = 0;
  let maxCompletion = 0;
  for (const c of cells) {
    let chars = 0;
    for (const t of suite.tasks) chars += promptText(suite, c.settings.prompt, t).length + (c.settings.prompt.system?.length ?? 0);
    generations += suite.tasks.length * c.settings.samples;
    promptChars += chars * c.settings.samples;
    maxCompletion += suite.tasks.length * c.settings.samples * c.maxTokens;
  }
  const models = new Set(cells.map((c) => c.hostKey)).size;
  const n = (x: number) => x.toLocaleString("en-US");
  return [
    fmt(header),
    ...rows.map(fmt),
    "",
    `${n(cells.length)} cells (grid ${n(inputs.gridSize)}${inputs.excluded ? `, ${n(inputs.excluded)} excluded` : ""}${inputs.sweep.sample ? `, random sample of ${inputs.sweep.sample.n} with seed ${inputs.sweep.sample.seed}` : ""}); ${n(models)} model load(s)`,
    `${n(suite.tasks.length)} tasks (suite ${suite.name}, sha256 ${suite.hash.slice(0, 12)}…${inputs.frozen.state === "frozen" ? "" : ", NOT FROZEN"})`,
    `${n(generations)} generations`,
    `≈ ${n(Math.round(promptChars / 4))} prompt tokens (4 characters a token) + at most ${n(maxCompletion)} completion tokens`,
  ].join("\n");
}
