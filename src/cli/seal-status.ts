import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { splitSizes } from "../core/split.js";
import type { Summary } from "../core/summary.js";
import { readJson, SUMMARY_FILE } from "../store/results.js";
import { LOCK_FILE, loadSuite, readLock, readSealLog, SEAL_LOG_FILE, type SealLogEntry } from "../store/suite-files.js";

const pct = (x: number | null | undefined) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);

export function registerSealStatus(program: Command): void {
  program
    .command("seal-status")
    .description("a suite's sealed split (sizes per area, seed, hash) and every use of its test part, with dev vs test for the chosen settings")
    .argument("<suite>", "suite directory")
    .option("--out <dir>", "results root where the --chosen-on dev runs are", "results")
    .action((dir: string, flags: { out: string }) => {
      process.stdout.write(sealStatusText(dir, flags.out));
    });
}

export function sealStatusText(dir: string, resultsRoot: string): string {
  const suite = loadSuite(dir);
  const lock = readLock(dir);
  if (!lock?.split) throw new HeldoutError("no-split", `suite has no sealed split; seal one with: heldout freeze ${dir} --split dev=0.3,test=0.7 --seed N`, { file: join(dir, LOCK_FILE) });
  const split = lock.split;
  const sizes = splitSizes(split, suite);
  const areas = [...new Set([...sizes.values()].flatMap((m) => [...m.keys()]))].sort();
  const lines: string[] = [];
  const shares = Object.entries(split.fractions)
    .map(([n, f]) => `${n}=${f}`)
    .join(",");
  lines.push(`suite ${suite.name}: sealed split ${shares}, seed ${split.seed}, split sha256 ${split.hash}`);
  const rows = [["part", "tasks", ...areas], ...[...sizes].map(([part, m]) => [part, String([...m.values()].reduce((a, b) => a + b, 0)), ...areas.map((a) => String(m.get(a) ?? 0))])];
  lines.push(...table(rows).map((l) => `  ${l}`));
  const log = readSealLog(dir);
  lines.push("");
  lines.push(log.length === 0 ? `test split never used (no ${SEAL_LOG_FILE})` : `test split used ${log.length} time(s) (${join(dir, SEAL_LOG_FILE)}):`);
  for (const e of log) {
    const models = e.models.map((m) => `${m.id} (sha256 ${m.sha256.slice(0, 12)}…)`).join(", ");
    const stale = e.splitHash !== split.hash ? " [an earlier split]" : "";
    lines.push(`  ${e.time}  run ${e.runId}  ${e.split}${stale}  models: ${models}  chosen on: ${e.chosenOn?.join(", ") ?? "(not given)"}`);
  }
  if (log.length > 1) lines.push(`warning: the test split was used ${log.length} times; each look at test spends it (settings picked after seeing test are tuned on test)`);
  for (const e of log) lines.push(...devVsTest(e, resultsRoot));
  return `${lines.join("\n")}\n`;
}

/** Pass rate on dev (the --chosen-on runs) against test for the same cells, when both summaries are at hand. */
function devVsTest(entry: SealLogEntry, resultsRoot: string): string[] {
  if (!entry.chosenOn?.length) return [];
  const testFile = join(entry.resultsDir, SUMMARY_FILE);
  if (!existsSync(testFile)) return [];
  const test = readJson<Summary>(testFile);
  const dev = new Map<string, { passRate: number | null; run: string }>();
  for (const id of entry.chosenOn) {
    const f = join(resultsRoot, id, SUMMARY_FILE);
    if (!existsSync(f)) continue;
    for (const c of readJson<Summary>(f).cells) dev.set(c.cellId, { passRate: c.passRate, run: id });
  }
  const rows: string[][] = [["cell", "dev run", "pass dev", "pass test", "test − dev"]];
  for (const c of test.cells) {
    const d = dev.get(c.cellId);
    if (!d) continue;
    const diff = d.passRate !== null && c.passRate !== null ? `${c.passRate - d.passRate >= 0 ? "+" : ""}${(100 * (c.passRate - d.passRate)).toFixed(1)} pts` : "–";
    rows.push([c.cellId, d.run, pct(d.passRate), pct(c.passRate), diff]);
  }
  if (rows.length === 1) return [];
  return ["", `dev vs test for run ${entry.runId} (the settings chosen on dev):`, ...table(rows).map((l) => `  ${l}`)];
}

function table(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ").trimEnd());
}
