import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseRatingLine, type RatingLine } from "../core/subjective.js";
import { repairJsonl } from "./results.js";

/**
 * `results/<run>/ratings.jsonl`: one line per rating (or undo), appended with a single write as
 * each is given, so a server killed at any moment leaves at most one partial last line.
 */
export const RATINGS_FILE = "ratings.jsonl";

export interface ReadRatings {
  lines: RatingLine[];
  /** Lines that were not JSON or not a rating (a torn last line, a hand edit): skipped. */
  skipped: number;
}

/** Every rating line of a run folder (none when the file is missing). Read-only. */
export function readRatings(runDir: string): ReadRatings {
  const file = join(runDir, RATINGS_FILE);
  if (!existsSync(file)) return { lines: [], skipped: 0 };
  const lines: RatingLine[] = [];
  let skipped = 0;
  for (const text of readFileSync(file, "utf8").split("\n")) {
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      skipped++;
      continue;
    }
    const line = parseRatingLine(value);
    if (line === null) skipped++;
    else lines.push(line);
  }
  return { lines, skipped };
}

/** Drops a torn last line before appending after it (a killed server's half-written rating). */
export function prepareRatingsFile(runDir: string): void {
  repairJsonl(join(runDir, RATINGS_FILE));
}

export function appendRating(runDir: string, line: RatingLine): void {
  appendFileSync(join(runDir, RATINGS_FILE), `${JSON.stringify(line)}\n`);
}
