import { appendFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { LoadTarget } from "../backends/backend.js";
import { HeldoutError } from "../core/errors.js";
import { combineOrders, pairwiseGraderId, pairwisePrompt, PAIRWISE_SCHEMA, parsePreference, tallyPairs, type PairOutcome, type PairwiseTally, type Preference } from "../core/pairwise.js";
import type { RunRecord } from "../core/types.js";
import { loadModelSpec, resolveModel } from "../store/models.js";
import { readJsonl, repairJsonl } from "../store/results.js";
import { loadRun, resolveCell } from "../store/runs.js";
import { loadSuite } from "../store/suite-files.js";
import { EngineHost } from "./host-client.js";
import type { HostRequest } from "./host-protocol.js";

/**
 * `heldout judge RUN --pairwise A,B`: a local judge compares two cells' answers task by task, in
 * both orders (position-bias control). Verdicts are appended to pairwise.jsonl as they come, keyed
 * by grader, task and order: a stopped judging resumes, and judging again reuses every verdict.
 */

export const PAIRWISE_FILE = "pairwise.jsonl";
const DEFAULT_RUBRIC = "Which answer completes the task better: correct, relevant and complete?";

export interface PairwiseLine {
  graderId: string;
  judge: string;
  judgeSha256: string;
  a: string;
  b: string;
  taskId: string;
  /** "ab": A's answer shown first; "ba": B's first. */
  order: "ab" | "ba";
  raw: string | null;
  better: Preference | null;
  error: string | null;
}

export interface PairwiseResult {
  graderId: string;
  a: string;
  b: string;
  judge: string;
  tally: PairwiseTally;
  outcomes: { taskId: string; outcome: PairOutcome }[];
}

export async function judgePairwise(o: { dir: string; a: string; b: string; judge?: string; rubric?: string; onProgress?: (m: string) => void }): Promise<PairwiseResult> {
  const run = loadRun(o.dir);
  const a = resolveCell(`${o.dir}:${o.a}`).cell.cellId;
  const b = resolveCell(`${o.dir}:${o.b}`).cell.cellId;
  if (a === b) throw new HeldoutError("invalid-option", "--pairwise needs two different cells");
  // The suite's own judge, unless one is named.
  const suite = existsSync(run.manifest.suite.dir) ? loadSuite(run.manifest.suite.dir) : null;
  const suiteJudge = suite && suite.scorer.type === "judge" ? suite.scorer : null;
  const judgeFile = o.judge ?? (typeof suiteJudge?.model === "string" ? suiteJudge.model : undefined);
  if (!judgeFile) throw new HeldoutError("invalid-option", "pairwise judging needs a judge: --judge models/<judge>.yaml (the suite has no judge scorer to take it from)");
  const rubric = o.rubric ?? (typeof suiteJudge?.rubric === "string" ? suiteJudge.rubric : DEFAULT_RUBRIC);
  const spec = loadModelSpec(judgeFile);
  const resolved = await resolveModel(spec);
  const graderId = pairwiseGraderId(rubric, resolved.sha256, a, b);
  const file = join(o.dir, PAIRWISE_FILE);
  repairJsonl(file);
  const first = (cell: string) => new Map(run.records.filter((r) => r.cellId === cell && r.sample === 0 && r.finishReason !== "error").map((r) => [r.taskId, r]));
  const [ra, rb] = [first(a), first(b)];
  const tasks = [...ra.keys()].filter((t) => rb.has(t));
  const mine = () => readJsonl<PairwiseLine>(file).filter((l) => l.graderId === graderId);
  const done = new Set(mine().filter((l) => l.error === null).map((l) => `${l.taskId}\u0000${l.order}`));
  const todo = tasks.flatMap((t) => (["ab", "ba"] as const).filter((order) => !done.has(`${t}\u0000${order}`)).map((order) => ({ taskId: t, order })));
  if (todo.length > 0) {
    o.onProgress?.(`judging ${todo.length} ordered pair(s) of ${tasks.length} task(s) with ${spec.id} (${graderId})`);
    const host = await EngineHost.start();
    try {
      const target: LoadTarget = { backend: spec.backend, runtime: spec.runtime };
      if (resolved.path) target.path = resolved.path;
      if (spec.server) target.server = spec.server;
      await host.load(target);
      const requests: HostRequest[] = todo.map(({ taskId, order }, i) => {
        const [x, y] = [ra.get(taskId) as RunRecord, rb.get(taskId) as RunRecord];
        const text = order === "ab" ? pairwisePrompt(rubric, x.prompt, x.output, y.output) : pairwisePrompt(rubric, x.prompt, y.output, x.output);
        return { key: String(i), text, system: null, chatTemplate: "auto", maxTokens: 96, sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: 0, stop: [] }, timeoutMs: 120_000, jsonSchema: { ...PAIRWISE_SCHEMA } };
      });
      await host.generate(requests, { threads: spec.runtime.threads, contextSize: spec.runtime.contextSize, flashAttention: false, parallel: 1 }, (items) => {
        const lines = items.map((item): PairwiseLine => {
          const { taskId, order } = todo[Number(item.key)] as { taskId: string; order: "ab" | "ba" };
          const g = item.generation;
          const p = g.error ? ({ ok: false, error: g.error } as const) : parsePreference(g.text);
          return { graderId, judge: spec.id, judgeSha256: resolved.sha256, a, b, taskId, order, raw: g.error ? null : g.text, better: p.ok ? p.better : null, error: p.ok ? null : p.error };
        });
        appendFileSync(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
      });
    } finally {
      await host.close();
    }
  }
  const latest = new Map(mine().map((l) => [`${l.taskId}\u0000${l.order}`, l]));
  const outcomes = tasks.map((taskId) => ({ taskId, outcome: combineOrders(latest.get(`${taskId}\u0000ab`)?.better ?? null, latest.get(`${taskId}\u0000ba`)?.better ?? null) }));
  return { graderId, a, b, judge: spec.id, tally: tallyPairs(outcomes.map((x) => x.outcome)), outcomes };
}
