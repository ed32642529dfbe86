import { createHash, randomBytes } from "node:crypto";
import { effectiveRatings, NO_AREA, type PairwiseRating, type RatingLine, type RatingMode, type ScoreRating } from "../core/subjective.js";
import { blindOrder, firstCellOnLeft, type RateItem } from "./items.js";

/**
 * One rater's session over a run's items: the blind order, what is left to rate, and the lines
 * each action appends. It holds the only map from the page's opaque ids back to cells and tasks;
 * what it hands the page (PageState) carries no model id, cell id, label or stable item id.
 */

/** The 1–5 scale people see when no --rubric names the area. */
export const DEFAULT_RUBRIC = [
  "5: excellent: does what the prompt asks, correct and fluent; nothing to fix.",
  "4: good: small flaws only.",
  "3: acceptable: usable, with clear flaws.",
  "2: poor: mostly wrong, off the point, or hard to read.",
  "1: unusable: wrong, empty, or nonsense.",
].join("\n");

export interface PageItem {
  /** Opaque, valid for this server process only. */
  id: string;
  area: string | null;
  rubric: string;
  prompt: string | null;
  /** Score mode. */
  output?: string;
  /** Pairwise: the two outputs as shown. */
  left?: string;
  right?: string;
}

export interface PageState {
  mode: RatingMode;
  rater: string;
  progress: { rated: number; total: number };
  canUndo: boolean;
  item: PageItem | null;
}

export interface SessionOptions {
  runId: string;
  mode: RatingMode;
  rater: string;
  seed: number;
  items: readonly RateItem[];
  /** Every line of ratings.jsonl so far (any rater): this rater's ratings of these items are skipped. */
  previous: readonly RatingLine[];
  rubric: (area: string | null) => string;
  /** Appends one line to ratings.jsonl; it must be on disk when it returns. */
  write: (line: RatingLine) => void;
  now?: () => Date;
}

/** A refused action, with the HTTP status the server answers. */
export class SessionError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Preference = "left" | "right" | "tie";

export class RateSession {
  readonly total: number;
  private readonly byOpaque = new Map<string, RateItem>();
  private readonly opaque = new Map<string, string>();
  private readonly position = new Map<string, number>();
  private readonly byKey = new Map<string, RateItem>();
  private readonly rated = new Set<string>();
  /** Keys of this rater's standing ratings, oldest first: what `undo` walks back through. */
  private readonly history: string[] = [];
  private pending: RateItem[];
  private readonly now: () => Date;

  constructor(private readonly options: SessionOptions) {
    this.now = options.now ?? (() => new Date());
    const salt = randomBytes(16).toString("hex");
    const order = blindOrder(options.items, options.seed);
    order.forEach((item, i) => {
      const id = createHash("sha256").update(`${salt}:${item.key}`).digest("hex").slice(0, 20);
      this.byOpaque.set(id, item);
      this.opaque.set(item.key, id);
      this.position.set(item.key, i + 1);
      this.byKey.set(item.key, item);
    });
    this.total = order.length;
    for (const r of effectiveRatings(options.previous)) {
      if (r.rater !== options.rater || r.mode !== options.mode || !this.byKey.has(r.item)) continue;
      this.rated.add(r.item);
      this.history.push(r.item);
    }
    this.pending = order.filter((item) => !this.rated.has(item.key));
  }

  get ratedCount(): number {
    return this.rated.size;
  }

  state(): PageState {
    const current = this.pending[0];
    return {
      mode: this.options.mode,
      rater: this.options.rater,
      progress: { rated: this.rated.size, total: this.total },
      canUndo: this.history.length > 0,
      item: current ? this.pageItem(current) : null,
    };
  }

  private pageItem(item: RateItem): PageItem {
    const base = { id: this.opaque.get(item.key) as string, area: item.area, rubric: this.options.rubric(item.area), prompt: item.prompt };
    if (item.mode === "score") return { ...base, output: item.output };
    const first = firstCellOnLeft(this.options.seed, item.key);
    return { ...base, left: item.outputs[first ? 0 : 1], right: item.outputs[first ? 1 : 0] };
  }

  private pendingItem(id: unknown): RateItem {
    const item = typeof id === "string" ? this.byOpaque.get(id) : undefined;
    if (!item) throw new SessionError(404, "no such item (the server was restarted? reload the page)");
    if (this.rated.has(item.key)) throw new SessionError(409, "this item is already rated (undo first to change it)");
    return item;
  }

  rate(id: unknown, value: { score?: unknown; preference?: unknown }): PageState {
    const item = this.pendingItem(id);
    const base = {
      rater: this.options.rater,
      time: this.now().toISOString(),
      runId: this.options.runId,
      item: item.key,
      taskId: item.taskId,
      sample: item.sample,
      area: item.area,
      seed: this.options.seed,
      position: this.position.get(item.key) as number,
    };
    if (item.mode === "score") {
      const score = value.score;
      if (typeof score !== "number" || !Number.isInteger(score) || score < 1 || score > 5) throw new SessionError(400, "score must be a whole number from 1 to 5");
      const line: ScoreRating = { ...base, mode: "score", cellId: item.cellId, score };
      this.options.write(line);
    } else {
      const preference = value.preference;
      if (preference !== "left" && preference !== "right" && preference !== "tie") throw new SessionError(400, 'preference must be "left", "right" or "tie"');
      const first = firstCellOnLeft(this.options.seed, item.key);
      const left = item.cells[first ? 0 : 1];
      const right = item.cells[first ? 1 : 0];
      const line: PairwiseRating = { ...base, mode: "pairwise", cells: item.cells, left, right, preference, winner: preference === "tie" ? null : preference === "left" ? left : right };
      this.options.write(line);
    }
    this.rated.add(item.key);
    this.history.push(item.key);
    this.pending = this.pending.filter((p) => p.key !== item.key);
    return this.state();
  }

  /** Puts the item at the end of this session's queue (nothing is written: it comes back next time). */
  skip(id: unknown): PageState {
    const item = this.pendingItem(id);
    this.pending = [...this.pending.filter((p) => p.key !== item.key), item];
    return this.state();
  }

  /** Withdraws this rater's latest standing rating (an undo line) and shows that item again. */
  undo(): PageState {
    const key = this.history.pop();
    if (key === undefined) throw new SessionError(409, "nothing to undo");
    this.options.write({ mode: this.options.mode, undo: true, rater: this.options.rater, time: this.now().toISOString(), runId: this.options.runId, item: key });
    this.rated.delete(key);
    this.pending = [this.byKey.get(key) as RateItem, ...this.pending.filter((p) => p.key !== key)];
    return this.state();
  }
}

/** `--rubric` content: area → text, with `default` for areas it does not name. */
export function rubricFor(rubric: Readonly<Record<string, string>>): (area: string | null) => string {
  const own = (key: string) => (Object.hasOwn(rubric, key) ? rubric[key] : undefined);
  return (area) => own(area ?? NO_AREA) ?? own("default") ?? DEFAULT_RUBRIC;
}
