import { bootstrapPercentile, type BootstrapOptions } from "../stats/intervals.js";
import { bradleyTerry, type BradleyTerryPlayer, type PairwiseOutcome } from "../stats/bradley-terry.js";
import { cohensKappaInterval, commonItems, type Category } from "../stats/kappa.js";

/**
 * People's ratings of a run's outputs (`results/<run>/ratings.jsonl`, written by `heldout rate`)
 * and what they add up to: per cell and area, the mean 1–5 score with a bootstrap interval, or
 * Bradley–Terry strengths from pairwise preferences; and, where two raters rated the same items,
 * how well they agree (Cohen's kappa). Pure: the lines are read elsewhere.
 */

/** Records without an area are grouped under this name (as in summary.ts). */
import { NO_AREA } from "./summary.js";

export { NO_AREA };

export type RatingMode = "score" | "pairwise";

interface RatingBase {
  rater: string;
  /** ISO 8601. */
  time: string;
  runId: string;
  /**
   * Stable item id: a hash of the run, the mode, the cell (pairwise: both cells, sorted), the task
   * and the sample. Never sent to the rating page, which sees per-session opaque ids.
   */
  item: string;
  taskId: string;
  sample: number;
  area: string | null;
  /** The seed of the blind order, and the item's 1-based place in that order. */
  seed: number;
  position: number;
}

export interface ScoreRating extends RatingBase {
  mode: "score";
  cellId: string;
  /** 1 (worst) to 5 (best), per the area's rubric. */
  score: number;
}

export interface PairwiseRating extends RatingBase {
  mode: "pairwise";
  /** The two cells compared, sorted; which one was shown on the left and on the right. */
  cells: [string, string];
  left: string;
  right: string;
  preference: "left" | "right" | "tie";
  /** The preferred cell, null for a tie. */
  winner: string | null;
}

/** "Undo": withdraws the rater's latest rating of `item` (the file stays append-only). */
export interface RatingUndo {
  mode: RatingMode;
  undo: true;
  rater: string;
  time: string;
  runId: string;
  item: string;
}

export type Rating = ScoreRating | PairwiseRating;
export type RatingLine = Rating | RatingUndo;

export const isUndo = (line: RatingLine): line is RatingUndo => "undo" in line && line.undo === true;

const isString = (v: unknown): v is string => typeof v === "string";
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

/** A line of ratings.jsonl checked for shape; null for anything else (skipped, and counted by the caller). */
export function parseRatingLine(value: unknown): RatingLine | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (!isString(v.rater) || !isString(v.time) || !isString(v.runId) || !isString(v.item)) return null;
  if (v.mode !== "score" && v.mode !== "pairwise") return null;
  if (v.undo === true) return { mode: v.mode, undo: true, rater: v.rater, time: v.time, runId: v.runId, item: v.item };
  if (!isString(v.taskId) || !isInt(v.sample) || !(v.area === null || isString(v.area)) || !isInt(v.seed) || !isInt(v.position)) return null;
  const base: RatingBase = { rater: v.rater, time: v.time, runId: v.runId, item: v.item, taskId: v.taskId, sample: v.sample, area: v.area, seed: v.seed, position: v.position };
  if (v.mode === "score") {
    if (!isString(v.cellId) || !isInt(v.score) || v.score < 1 || v.score > 5) return null;
    return { ...base, mode: "score", cellId: v.cellId, score: v.score };
  }
  const cells = v.cells;
  if (!Array.isArray(cells) || cells.length !== 2 || !isString(cells[0]) || !isString(cells[1]) || cells[0] === cells[1]) return null;
  if (!isString(v.left) || !isString(v.right) || !cells.includes(v.left) || !cells.includes(v.right) || v.left === v.right) return null;
  if (v.preference !== "left" && v.preference !== "right" && v.preference !== "tie") return null;
  const winner = v.preference === "tie" ? null : v.preference === "left" ? v.left : v.right;
  return { ...base, mode: "pairwise", cells: [cells[0], cells[1]], left: v.left, right: v.right, preference: v.preference, winner };
}

/**
 * The ratings that count, in file order: for each rater, mode and item the latest rating, unless
 * an undo after it withdrew it. A rater who re-rates an item replaces the earlier rating.
 */
export function effectiveRatings(lines: readonly RatingLine[]): Rating[] {
  const latest = new Map<string, { line: Rating; order: number }>();
  lines.forEach((line, order) => {
    const key = `${line.rater}\u0000${line.mode}\u0000${line.item}`;
    if (isUndo(line)) latest.delete(key);
    else latest.set(key, { line, order });
  });
  return [...latest.values()].sort((a, b) => a.order - b.order).map((v) => v.line);
}

export interface SubjectiveOptions extends BootstrapOptions {
  /** Virtual ties per compared pair of cells in the Bradley–Terry fit (default 1; see src/stats/bradley-terry.ts). */
  pseudoTies?: number;
}

/** A mean 1–5 score with its percentile-bootstrap interval over items. */
export interface ScoreFigure {
  /** Items (outputs) rated; an item rated by several raters counts once, with their mean score. */
  n: number;
  /** Rating lines behind those items. */
  ratings: number;
  mean: number | null;
  low: number | null;
  high: number | null;
}

export interface ScoreAreaQuality extends ScoreFigure {
  area: string;
}

export interface ScoreCellQuality extends ScoreFigure {
  cellId: string;
  /** Per area, sorted by name; areas without ratings are left out. */
  areas: ScoreAreaQuality[];
}

/** A cell's Bradley–Terry figures (centred log-strength, 0 = the average compared cell, with 95% bootstrap bounds). */
export type PairwiseCellQuality = Omit<BradleyTerryPlayer, "id"> & { cellId: string };

export interface PairwiseFigure {
  /** Rating lines (one comparison each). */
  comparisons: number;
  cells: PairwiseCellQuality[];
  /** Bootstrap resamples whose fit existed. */
  resamples: number;
}

export interface PairwiseQuality extends PairwiseFigure {
  pseudoTies: number;
  /** The same fit over each area's comparisons, sorted by area. */
  areas: (PairwiseFigure & { area: string })[];
}

export interface RaterAgreement {
  mode: RatingMode;
  raters: [string, string];
  /** Items both rated. */
  n: number;
  /** Unweighted Cohen's kappa (pairwise: categories are the preferred cell or a tie) with 95% bootstrap bounds. */
  kappa: number | null;
  low: number | null;
  high: number | null;
  /** Share of common items given the same rating. */
  observedAgreement: number | null;
  /** Score mode: quadratic-weighted kappa (a 4 against a 5 is a near miss); null for pairwise. */
  weightedKappa: number | null;
  weightedLow: number | null;
  weightedHigh: number | null;
}

export interface SubjectiveQuality {
  /** Ratings counted (after undos and re-ratings), and who gave them (sorted). */
  ratings: number;
  raters: string[];
  /** 1–5 scores, one entry per cell asked for (n = 0 where unrated); null with no score ratings. */
  score: { cells: ScoreCellQuality[] } | null;
  /** Pairwise preferences; null with none. */
  pairwise: PairwiseQuality | null;
  /** Every pair of raters with common items, per mode. */
  agreement: RaterAgreement[];
}

const mean = (xs: readonly number[]): number | null => (xs.length === 0 ? null : xs.reduce((s, v) => s + v, 0) / xs.length);

function scoreFigure(byItem: ReadonlyMap<string, number[]>, options: BootstrapOptions): ScoreFigure {
  const itemMeans = [...byItem.values()].map((scores) => mean(scores) as number);
  const ratings = [...byItem.values()].reduce((s, v) => s + v.length, 0);
  if (itemMeans.length === 0) return { n: 0, ratings: 0, mean: null, low: null, high: null };
  const boot = bootstrapPercentile(itemMeans, mean, options);
  return { n: itemMeans.length, ratings, mean: boot.estimate, low: boot.low, high: boot.high };
}

function pairwiseFigure(cells: readonly string[], ratings: readonly PairwiseRating[], options: SubjectiveOptions): PairwiseFigure {
  const outcomes: PairwiseOutcome[] = ratings.map((r) => ({ a: r.cells[0], b: r.cells[1], score: r.winner === null ? 0.5 : r.winner === r.cells[0] ? 1 : 0 }));
  const bt = bradleyTerry(cells, outcomes, { ...options, pseudoTies: options.pseudoTies ?? 1 });
  return { comparisons: outcomes.length, cells: bt.players.map(({ id, ...figures }: BradleyTerryPlayer) => ({ cellId: id, ...figures })), resamples: bt.resamples };
}

/**
 * Subjective quality per cell from the lines of ratings.jsonl (any order; undos applied here).
 * `cells` are the cells to report, in order (cell ids, or objects with `cellId`, e.g. the
 * summary's cells); ratings of other cells are ignored. Without it, every rated cell, sorted.
 *
 * Scores: each item's score is the mean of its raters' scores; a cell's (and an area's) figure is
 * the mean over its items with a percentile bootstrap over items (seeded). Pairwise: Bradley–Terry
 * strengths over the comparisons (each rating line one comparison, ties as half wins, one virtual
 * tie per compared pair by default), bootstrap over comparisons. Agreement: Cohen's kappa for
 * every two raters on the items both rated, with an interval from a bootstrap over those items.
 */
export function subjectiveQuality(lines: readonly RatingLine[], cells?: readonly (string | { cellId: string })[], options: SubjectiveOptions = {}): SubjectiveQuality {
  const all = effectiveRatings(lines);
  const cellIds = cells
    ? cells.map((c) => (typeof c === "string" ? c : c.cellId))
    : [...new Set(all.flatMap((r) => (r.mode === "score" ? [r.cellId] : r.cells)))].sort();
  const wanted = new Set(cellIds);
  const scores = all.filter((r): r is ScoreRating => r.mode === "score" && wanted.has(r.cellId));
  const pairs = all.filter((r): r is PairwiseRating => r.mode === "pairwise" && wanted.has(r.cells[0]) && wanted.has(r.cells[1]));
  const counted: Rating[] = [...scores, ...pairs];

  let score: SubjectiveQuality["score"] = null;
  if (scores.length > 0) {
    score = {
      cells: cellIds.map((cellId) => {
        const mine = scores.filter((r) => r.cellId === cellId);
        const group = (rs: readonly ScoreRating[]) => {
          const byItem = new Map<string, number[]>();
          for (const r of rs) byItem.set(r.item, [...(byItem.get(r.item) ?? []), r.score]);
          return byItem;
        };
        const areaNames = [...new Set(mine.map((r) => r.area ?? NO_AREA))].sort();
        return {
          cellId,
          ...scoreFigure(group(mine), options),
          areas: areaNames.map((area) => ({ area, ...scoreFigure(group(mine.filter((r) => (r.area ?? NO_AREA) === area)), options) })),
        };
      }),
    };
  }

  let pairwise: PairwiseQuality | null = null;
  if (pairs.length > 0) {
    const areaNames = [...new Set(pairs.map((r) => r.area ?? NO_AREA))].sort();
    pairwise = {
      ...pairwiseFigure(cellIds, pairs, options),
      pseudoTies: options.pseudoTies ?? 1,
      areas: areaNames.map((area) => ({ area, ...pairwiseFigure(cellIds, pairs.filter((r) => (r.area ?? NO_AREA) === area), options) })),
    };
  }

  const raters = [...new Set(counted.map((r) => r.rater))].sort();
  const agreement: RaterAgreement[] = [];
  for (const mode of ["score", "pairwise"] as const) {
    const byRater = new Map<string, Map<string, Category>>();
    for (const r of counted) {
      if (r.mode !== mode) continue;
      const value: Category = r.mode === "score" ? r.score : (r.winner ?? "tie");
      const m = byRater.get(r.rater) ?? new Map<string, Category>();
      m.set(r.item, value);
      byRater.set(r.rater, m);
    }
    const names = [...byRater.keys()].sort();
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        const a = names[i] as string;
        const b = names[j] as string;
        const common = commonItems(byRater.get(a) as Map<string, Category>, byRater.get(b) as Map<string, Category>);
        if (common.length === 0) continue;
        const plain = cohensKappaInterval(common, "none", options);
        const weighted = mode === "score" ? cohensKappaInterval(common, "quadratic", options) : null;
        agreement.push({
          mode,
          raters: [a, b],
          n: plain.n,
          kappa: plain.kappa,
          low: plain.low,
          high: plain.high,
          observedAgreement: plain.observedAgreement,
          weightedKappa: weighted?.kappa ?? null,
          weightedLow: weighted?.low ?? null,
          weightedHigh: weighted?.high ?? null,
        });
      }
    }
  }

  return { ratings: counted.length, raters, score, pairwise, agreement };
}
