import type { Command } from "commander";
import { randomInt } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse } from "yaml";
import { HeldoutError } from "../core/errors.js";
import { effectiveRatings, type RatingMode } from "../core/subjective.js";
import { buildItems, neutralPrompts, resolveCells } from "../rate/items.js";
import { appendRating, prepareRatingsFile, RATINGS_FILE, readRatings } from "../store/ratings.js";
import { startRateServer } from "../rate/server.js";
import { RateSession, rubricFor } from "../rate/session.js";
import { writeSummary } from "../runner/run.js";
import { RunStore } from "../store/results.js";
import { loadRun } from "../store/runs.js";
import { reportQuietly } from "./report.js";

interface RateFlags {
  rater?: string;
  mode: string;
  cells?: string;
  rubric?: string;
  seed?: string;
  port: string;
  results: string;
}

function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) throw new HeldoutError("invalid-option", `${flag} must be a whole number from ${min} to ${max}, got ${value}`, { field: flag });
  return n;
}

/** `--rubric`: a YAML (or JSON) mapping of area → rubric text; `default` for the other areas. */
function loadRubric(file: string): Record<string, string> {
  if (!existsSync(file)) throw new HeldoutError("file-not-found", "no such rubric file", { file });
  let value: unknown;
  try {
    value = parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new HeldoutError("invalid-rubric", `not valid YAML (${(error as Error).message.split("\n")[0]})`, { file });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new HeldoutError("invalid-rubric", "a rubric file maps each area to its rubric text (and `default` to the text for other areas)", { file });
  const rubric: Record<string, string> = {};
  for (const [area, text] of Object.entries(value)) {
    if (typeof text !== "string" || text.trim() === "") throw new HeldoutError("invalid-rubric", "each area's rubric must be a non-empty string", { file, field: area });
    rubric[area] = text.trimEnd();
  }
  return rubric;
}

export function registerRate(program: Command): void {
  program
    .command("rate")
    .description("grade a run's outputs blind in the browser (1–5 per area rubric, or pairwise preference between two cells); ratings go to ratings.jsonl")
    .argument("<run>", "run folder, or its id under the results root")
    .option("--rater <name>", "who is rating (required): recorded with every rating, and what resuming picks up")
    .option("--mode <mode>", "score (1–5 per output) or pairwise (which of two cells' outputs is better)", "score")
    .option("--cells <list>", "comma-separated cells (cell ids, unique prefixes or model ids): pairwise needs two (default: a run's only two); score: which to rate (default: all)")
    .option("--rubric <file.yaml>", "area → rubric text shown beside each output (`default:` for the other areas)")
    .option("--seed <n>", "seed of the blind order (default: your earlier ratings' seed, else random; printed and recorded)")
    .option("--port <n>", "port on 127.0.0.1 (default 0: a free one)", "0")
    .option("--results <dir>", "results root for run ids", "results")
    .addHelpText(
      "after",
      `
Serves a page on 127.0.0.1 only; the URL it prints carries a one-time token, and every request
without it is refused (403). Outputs are shown without their model or cell, in an order shuffled
with the seed; keys: 1–5 to score (pairwise: 1/← left, 2/→ right, 0/= tie), n or space to skip
for now, u to undo. Each rating is appended to results/<run>/ratings.jsonl at once; run the same
command again to carry on where you stopped. Ctrl-C stops the server.

Examples:
  heldout rate my-run --rater alice
  heldout rate my-run --rater bob --mode pairwise --cells stories260k@43126a,stories260k@e8437e
  heldout rate my-run --rater alice --rubric rubric.yaml --port 8765`,
    )
    .action(async (run: string, flags: RateFlags) => {
      const rater = (flags.rater ?? "").trim();
      if (rater === "") throw new HeldoutError("invalid-option", "--rater NAME is required: it is recorded with every rating, and resuming picks up that rater's place", { field: "--rater" });
      if (rater.length > 200 || /[\u0000-\u001f\u007f]/.test(rater)) throw new HeldoutError("invalid-option", "--rater must be a name of at most 200 characters, without control characters", { field: "--rater" });
      if (flags.mode !== "score" && flags.mode !== "pairwise") throw new HeldoutError("invalid-option", `--mode must be score or pairwise, got ${flags.mode}`, { field: "--mode" });
      const mode: RatingMode = flags.mode;
      const port = wholeNumber(flags.port, "--port", 0, 65535);
      const rubric = rubricFor(flags.rubric ? loadRubric(flags.rubric) : {});

      const loaded = loadRun(run, flags.results);
      const runId = loaded.manifest.runId ?? basename(loaded.dir);
      const refs = flags.cells ? flags.cells.split(",").map((c) => c.trim()).filter((c) => c !== "") : [];
      let cells: string[];
      if (refs.length > 0) cells = resolveCells(loaded, refs);
      else if (mode === "score" || loaded.summary.cells.length === 2) cells = loaded.summary.cells.map((c) => c.cellId);
      else throw new HeldoutError("invalid-option", `pairwise rating compares two cells and this run has ${loaded.summary.cells.length}: name them with --cells A,B`, { field: "--cells" });
      if (mode === "pairwise" && (cells.length !== 2 || cells[0] === cells[1])) throw new HeldoutError("invalid-option", "pairwise rating needs exactly two different cells: --cells A,B", { field: "--cells" });
      const items = buildItems(loaded.records, runId, mode, cells, neutralPrompts(loaded));

      prepareRatingsFile(loaded.dir);
      const { lines, skipped } = readRatings(loaded.dir);
      if (skipped > 0) process.stderr.write(`heldout rate: warning: ${skipped} line(s) of ${RATINGS_FILE} are not ratings and were skipped\n`);
      const previous = lines.filter((l) => l.runId === runId);
      const keys = new Set(items.map((i) => i.key));
      const mine = effectiveRatings(previous).filter((r) => r.rater === rater && r.mode === mode && keys.has(r.item));
      let seed: number;
      let seedNote: string;
      if (flags.seed !== undefined) {
        seed = wholeNumber(flags.seed, "--seed", 0, 2 ** 32 - 1);
        seedNote = "";
      } else if (mine.length > 0) {
        seed = mine[mine.length - 1]?.seed ?? 0;
        seedNote = " (your earlier ratings' seed)";
      } else {
        seed = randomInt(1, 2 ** 31);
        seedNote = " (random; --seed repeats this order)";
      }

      const file = join(loaded.dir, RATINGS_FILE);
      const session = new RateSession({ runId, mode, rater, seed, items, previous, rubric, write: (line) => appendRating(loaded.dir, line) });
      const server = await startRateServer({ session, port }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "EADDRINUSE") throw new HeldoutError("port-in-use", `port ${port} on 127.0.0.1 is in use; pick another with --port, or leave it out for a free one`, { field: "--port" });
        throw error;
      });
      const what = mode === "score" ? `1–5 scores of ${cells.length} cell(s)` : "pairwise preference between 2 cells";
      process.stdout.write(
        `heldout rate: run ${runId}, ${what}, rater ${rater}: ${session.total} items, ${session.ratedCount} rated before; seed ${seed}${seedNote}\n` +
          `open (the token in it is the key; keep it to yourself):\n  ${server.url}\n` +
          `ratings are saved as you give them to ${file}; Ctrl-C stops the server\n`,
      );

      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolve();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      await server.close();
      // The ratings feed the summary (subjective quality per cell and area) and the report.
      writeSummary(new RunStore(loaded.dir, true), loaded.manifest);
      const report = reportQuietly(loaded.dir);
      process.stdout.write(`heldout rate: stopped; ${rater} has rated ${session.ratedCount} of ${session.total} items (${file}); summary${report ? " and report" : ""} updated\n`);
    });
}
