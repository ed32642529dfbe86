import { HeldoutError } from "../core/errors.js";
import type { Summary } from "../core/summary.js";
import { kendallTau, reversedPairs } from "../stats/rank.js";

/** Benchmark reversal: does a public leaderboard rank these models as this suite does? */

export function parseLeaderboard(file: string, text: string): Map<string, number> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").split(",").map((h) => h.trim().toLowerCase());
  const mi = header.indexOf("model");
  const si = header.indexOf("score");
  if (mi < 0 || si < 0) throw new HeldoutError("invalid-leaderboard", `the first line must name the columns "model" and "score", got "${lines[0] ?? ""}"`, { file, line: 1 });
  const board = new Map<string, number>();
  lines.slice(1).forEach((line, i) => {
    const cols = line.split(",").map((c) => c.trim());
    const score = Number(cols[si]);
    if (!cols[mi] || !Number.isFinite(score)) throw new HeldoutError("invalid-leaderboard", `needs a model and a numeric score, got "${line}"`, { file, line: i + 2, field: Number.isFinite(score) ? "model" : "score" });
    board.set(cols[mi] as string, score);
  });
  return board;
}

export function leaderboardText(summary: Summary, board: Map<string, number>, format: string): string {
  // Each model's best cell on this suite stands for it.
  const models = summary.best.filter((b) => board.has(b.modelId) && b.passRate !== null);
  if (models.length < 2) throw new HeldoutError("invalid-leaderboard", `fewer than two models of run ${summary.runId} are on the leaderboard (its models: ${summary.best.map((b) => b.modelId).join(", ")})`);
  const names = models.map((m) => m.modelId);
  const x = names.map((n) => board.get(n) as number);
  const y = models.map((m) => m.passRate as number);
  const tau = kendallTau(x, y);
  const reversed = reversedPairs(names, x, y);
  if (format === "json") return JSON.stringify({ models: names.map((n, i) => ({ model: n, leaderboard: x[i], suite: y[i] })), kendallTau: tau, reversed }, null, 2);
  const lines = [
    `Kendall τ-b between the leaderboard and suite ${summary.suite.name}: ${tau.tau === null ? "undefined (a constant ranking)" : tau.tau.toFixed(3)}${tau.p === null ? "" : `, p = ${tau.p.toPrecision(2)} (${tau.method}), n = ${tau.n}`}`,
    ...names.map((n, i) => `  ${n}: leaderboard ${x[i]}, this suite ${(y[i] as number).toFixed(3)}`),
    reversed.length === 0 ? "no pair is in the opposite order" : `pairs in the opposite order (${reversed.length}):`,
    ...reversed.map((r) => `  ${r.first} vs ${r.second}: leaderboard ${r.x.join(" vs ")}, this suite ${r.y.map((v) => v.toFixed(3)).join(" vs ")}`),
  ];
  return lines.join("\n");
}
