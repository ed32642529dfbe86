import type { RunRecord } from "../core/types.js";

/**
 * Do two cells give the same outputs on the same tasks? The comparison behind `check determinism`
 * (1 sequence against 8, one thread count against another) and `reproduce` (a run against its
 * re-run). Pure: records in, counts and examples out. Samples are matched by (task, sample).
 */

export interface OutputDifference {
  taskId: string;
  sample: number;
  a: string;
  b: string;
  aPass: boolean;
  bPass: boolean;
}

export interface OutputAgreement {
  /** (task, sample) pairs both cells have, without an error in either. */
  compared: number;
  identical: number;
  differing: number;
  /** differing ÷ compared (null when nothing was compared). */
  differingShare: number | null;
  /** Outputs that differ and change the verdict: a pass in A that fails in B, and the reverse. */
  passToFail: number;
  failToPass: number;
  /** Pairs only one side has, or where either failed with an error (not outputs to compare). */
  missing: number;
  /** The first few differences, verdict flips first. */
  examples: OutputDifference[];
}

const key = (r: RunRecord) => `${r.taskId}\u0000${r.sample}`;

export function compareOutputs(a: readonly RunRecord[], b: readonly RunRecord[], maxExamples = 5): OutputAgreement {
  const inB = new Map(b.map((r) => [key(r), r]));
  let compared = 0;
  let identical = 0;
  let passToFail = 0;
  let failToPass = 0;
  let missing = 0;
  const differences: OutputDifference[] = [];
  for (const x of a) {
    const y = inB.get(key(x));
    inB.delete(key(x));
    if (!y || x.error !== null || y.error !== null) {
      missing++;
      continue;
    }
    compared++;
    if (x.output === y.output) {
      identical++;
      continue;
    }
    if (x.score.pass && !y.score.pass) passToFail++;
    if (!x.score.pass && y.score.pass) failToPass++;
    differences.push({ taskId: x.taskId, sample: x.sample, a: x.output, b: y.output, aPass: x.score.pass, bPass: y.score.pass });
  }
  missing += inB.size;
  const flips = (d: OutputDifference) => (d.aPass !== d.bPass ? 0 : 1);
  const examples = [...differences].sort((p, q) => flips(p) - flips(q)).slice(0, maxExamples);
  return { compared, identical, differing: compared - identical, differingShare: compared ? (compared - identical) / compared : null, passToFail, failToPass, missing, examples };
}

/** One line a person can read: "3 of 1000 outputs differ (0.3%); 1 pass→fail, 0 fail→pass". */
export function describeAgreement(x: OutputAgreement): string {
  if (x.compared === 0) return "nothing to compare (no task both sides generated without an error)";
  const pct = ((x.differingShare as number) * 100).toFixed(1);
  const flips = x.passToFail + x.failToPass;
  return `${x.differing} of ${x.compared} outputs differ (${pct}%)${flips ? `; ${flips} change the verdict (${x.passToFail} pass→fail, ${x.failToPass} fail→pass)` : x.differing ? "; no verdict changes" : ""}${x.missing ? `; ${x.missing} not compared (missing or errors)` : ""}`;
}

/** An example as two quoted lines, cut to `width` characters around the first difference. */
export function formatDifference(d: OutputDifference, names: [string, string], width = 100): string {
  let at = 0;
  while (at < d.a.length && at < d.b.length && d.a[at] === d.b[at]) at++;
  const start = Math.max(0, at - Math.floor(width / 3));
  const cut = (s: string) => `${start > 0 ? "…" : ""}${JSON.stringify(s.slice(start, start + width)).slice(1, -1)}${s.length > start + width ? "…" : ""}`;
  const verdict = (p: boolean) => (p ? "pass" : "fail");
  return `${d.taskId}${d.sample ? ` (sample ${d.sample})` : ""}, first difference at character ${at}:\n    ${names[0]} [${verdict(d.aPass)}]: ${cut(d.a)}\n    ${names[1]} [${verdict(d.bPass)}]: ${cut(d.b)}`;
}
