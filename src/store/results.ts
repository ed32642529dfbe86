import { appendFileSync, closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, fstatSync, readSync } from "node:fs";
import { join } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { applyGrades, type GradeLine } from "../core/grades.js";
import type { CellExecution } from "../core/summary.js";
import type { RunRecord } from "../core/types.js";

/**
 * The results directory of one run: manifest.json, records.jsonl (one line per task × sample,
 * appended and flushed as each finishes), cells.jsonl (one line per cell execution) and
 * summary.json. A line is written with a single append, so a run killed at any moment leaves at
 * most one partial last line, which the next open drops before resuming.
 */
export const RECORDS_FILE = "records.jsonl";
export const CELLS_FILE = "cells.jsonl";
export const MANIFEST_FILE = "manifest.json";
export const SUMMARY_FILE = "summary.json";
export const GRADES_FILE = "grades.jsonl";
export type { GradeLine };

export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** Drops a trailing partial line left by a run that was killed mid-write. */
export function repairJsonl(path: string): void {
  if (!existsSync(path)) return;
  const fd = openSync(path, "r+");
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const tail = Buffer.alloc(Math.min(size, 1 << 20));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    if (tail[tail.length - 1] === 0x0a) return;
    const lastNewline = tail.lastIndexOf(0x0a);
    ftruncateSync(fd, lastNewline < 0 ? size - tail.length : size - tail.length + lastNewline + 1);
  } finally {
    closeSync(fd);
  }
}

export function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const out: T[] = [];
  const lines = readFileSync(path, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch (error) {
      // Only the last line may be partial (a killed run); anything else is corruption worth knowing about.
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim() !== "")) {
        throw new HeldoutError(
          "corrupt-results",
          `not valid JSON (${(error as Error).message}); the file was edited or damaged. Remove that line to run its task again on resume`,
          { file: path, line: i + 1 },
        );
      }
    }
  }
  return out;
}

/**
 * The records that count: the latest line for each (cell, task, sample). A key appears twice when
 * a resume re-ran a generation that had failed (or a crashed host's failure line raced a late
 * result); the later line supersedes the earlier one.
 */
export function latestRecords(records: readonly RunRecord[]): RunRecord[] {
  const byKey = new Map<string, RunRecord>();
  for (const r of records) byKey.set(`${r.cellId}\u0000${r.taskId}\u0000${r.sample}`, r);
  return [...byKey.values()];
}

export class RunStore {
  /** `readOnly` (show, compare): read what is there, never create or repair anything. */
  constructor(
    readonly dir: string,
    readOnly = false,
  ) {
    if (readOnly) return;
    mkdirSync(dir, { recursive: true });
    repairJsonl(join(dir, RECORDS_FILE));
    repairJsonl(join(dir, CELLS_FILE));
    repairJsonl(join(dir, GRADES_FILE));
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  appendRecord(record: RunRecord): void {
    this.appendRecords([record]);
  }

  /** One write for many records: a kill can tear only the last line, which the next open drops. */
  appendRecords(records: readonly RunRecord[]): void {
    if (records.length === 0) return;
    appendFileSync(this.path(RECORDS_FILE), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  }

  appendCell(cell: CellExecution): void {
    appendFileSync(this.path(CELLS_FILE), `${JSON.stringify(cell)}\n`);
  }

  /** The latest record per key (see latestRecords). */
  records(): RunRecord[] {
    return latestRecords(readJsonl<RunRecord>(this.path(RECORDS_FILE)));
  }

  cells(): CellExecution[] {
    return readJsonl<CellExecution>(this.path(CELLS_FILE));
  }

  appendGrades(grades: readonly GradeLine[]): void {
    if (grades.length > 0) appendFileSync(this.path(GRADES_FILE), grades.map((g) => `${JSON.stringify(g)}\n`).join(""));
  }

  grades(): GradeLine[] {
    return readJsonl<GradeLine>(this.path(GRADES_FILE));
  }

  /** The records that count, with the newest grade of each applied: what every figure is made from. */
  scoredRecords(): RunRecord[] {
    return applyGrades(this.records(), this.grades());
  }
}
