import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { HeldoutError } from "../../core/errors.js";
import type { Summary } from "../../core/summary.js";
import type { JsonValue } from "../../core/types.js";
import { readJson, RunStore, SUMMARY_FILE } from "../../store/results.js";
import { loadRun } from "../../store/runs.js";
import { loadSuite } from "../../store/suite-files.js";
import { profileReportHtml, type ProfileFile } from "./profile-report.js";
import { runReportHtml } from "./run-report.js";
import { readAblation, readQuantization } from "../../store/weights-files.js";

export const REPORT_FILE = "report.html";
const PROFILE_FILE = "profile.json";

/**
 * Writes the HTML report of a run or profile folder (or a run id under `resultsRoot`) and returns
 * its path: `out`, or report.html inside the folder. Written to a temporary name and renamed, so a
 * report is never seen half-written.
 */
export function writeReport(run: string, options: { resultsRoot?: string; out?: string } = {}): string {
  const root = options.resultsRoot ?? "results";
  const dir = [run, join(root, run)].find((d) => existsSync(join(d, SUMMARY_FILE)) || existsSync(join(d, PROFILE_FILE)));
  if (!dir) throw new HeldoutError("run-not-found", `no run or profile here (no ${SUMMARY_FILE} or ${PROFILE_FILE})`, { file: existsSync(run) ? run : join(root, run) });
  const html = existsSync(join(dir, SUMMARY_FILE)) ? runReport(dir) : profileReportHtml(readJson<ProfileFile>(join(dir, PROFILE_FILE)));
  const out = options.out ?? join(dir, REPORT_FILE);
  mkdirSync(dirname(resolve(out)), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, html);
  renameSync(tmp, out);
  return out;
}

function runReport(dir: string): string {
  const run = loadRun(dir);
  const { expected, note } = expectedAnswers(run.manifest.suite?.dir, run.summary.suite.hash);
  // A sealed split's test run: the dev runs it names, beside it in the results root.
  const devRuns = (run.manifest.split?.chosenOn ?? []).flatMap((id) => {
    const file = join(dirname(resolve(dir)), id, SUMMARY_FILE);
    return existsSync(file) ? [{ runId: id, summary: readJson<Summary>(file) }] : [];
  });
  return runReportHtml({ run, executions: new RunStore(dir, true).cells(), expected, expectedNote: note, devRuns, quantization: readQuantization(dir), ablation: readAblation(dir) });
}

/** The suite's expected answers, only when the suite on disk is the one the run used (same hash). */
function expectedAnswers(suiteDir: string | undefined, hash: string): { expected: Map<string, string> | null; note: string | null } {
  if (!suiteDir || !existsSync(suiteDir)) return { expected: null, note: `the suite folder ${suiteDir ?? "(not recorded)"} is not here` };
  try {
    const suite = loadSuite(suiteDir);
    if (suite.hash !== hash) return { expected: null, note: `the suite in ${suiteDir} has changed since this run (sha256 ${suite.hash.slice(0, 12)}…, the run used ${hash.slice(0, 12)}…)` };
    const show = (v: JsonValue) => (typeof v === "string" ? v : JSON.stringify(v));
    return { expected: new Map(suite.tasks.filter((t) => t.expected !== undefined).map((t) => [t.id, show(t.expected as JsonValue)])), note: null };
  } catch (error) {
    return { expected: null, note: `the suite in ${suiteDir} could not be read (${(error as Error).message.split("\n")[0]})` };
  }
}
