import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { gradeRun } from "../runner/grade.js";
import { judgePairwise, PAIRWISE_FILE } from "../runner/pairwise.js";
import { MANIFEST_FILE } from "../store/results.js";

export function registerJudge(program: Command): void {
  program
    .command("judge")
    .description("grade a run's generations with the model-graded scorers of its suite (judge, similarity), without generating again")
    .argument("<run>", "run id under the results root, or a run folder")
    .option("--judge <file>", "grade every judge scorer with this model (manifest or .gguf) instead of the suite's")
    .option("--pairwise <a,b>", "compare two cells' answers task by task (cell ids, prefixes or model ids), in both orders")
    .option("--rubric <text>", "with --pairwise: the rubric (default: the suite judge's, else a generic one)")
    .option("--results <dir>", "results root", "results")
    .addHelpText(
      "after",
      `
Grades are kept in grades.jsonl, keyed by the grader (scorer options, judge model sha256, prompt
version): a stopped grading resumes, grading again with the same grader reuses every grade, and
another judge or rubric adds its grades beside the old ones (the newest applies).

Examples:
  heldout judge my-run                                   grade what is not graded yet
  heldout judge my-run --judge models/bigger-judge.yaml  re-judge with another model
  heldout judge my-run --pairwise arith-step300,arith-step600 --judge models/judge.yaml

Pairwise: each task is judged twice, once with each answer first; a win counts only when both
orders agree, and the share of tasks where the order changed the verdict is reported.`,
    )
    .action(async (run: string, flags: { judge?: string; results: string; pairwise?: string; rubric?: string }) => {
      const dir = existsSync(join(run, MANIFEST_FILE)) ? run : join(flags.results, run);
      if (!existsSync(join(dir, MANIFEST_FILE))) throw new HeldoutError("run-not-found", "no run here", { file: dir });
      if (flags.pairwise) {
        const [a, b, ...rest] = flags.pairwise.split(",");
        if (!a || !b || rest.length) throw new HeldoutError("invalid-option", `--pairwise takes two cells, A,B; got "${flags.pairwise}"`);
        const r = await judgePairwise({ dir, a, b, ...(flags.judge ? { judge: flags.judge } : {}), ...(flags.rubric ? { rubric: flags.rubric } : {}), onProgress: (m) => process.stderr.write(`${m}\n`) });
        const t = r.tally;
        const pct = (v: number | null) => (v === null ? "–" : `${(v * 100).toFixed(1)}%`);
        process.stdout.write(
          `${r.a} vs ${r.b}, judged by ${r.judge} in both orders (${r.graderId}) on ${t.tasks} task(s):\n  ${r.a} wins ${t.aWins}, ${r.b} wins ${t.bWins}, ties ${t.ties}, inconsistent (the order decided) ${t.inconsistent}${t.unusable ? `, unusable replies ${t.unusable}` : ""}\n  position disagreement rate: ${pct(t.disagreementRate)}\n  verdicts: ${join(dir, PAIRWISE_FILE)}\n`,
        );
        return;
      }
      const outcome = await gradeRun({ dir, ...(flags.judge ? { judge: flags.judge } : {}), onProgress: (m) => process.stderr.write(`${m}\n`) });
      if (outcome.graders.length === 0) {
        process.stdout.write("nothing to grade: no task of this run's suite has a judge or similarity scorer\n");
        return;
      }
      for (const g of outcome.graders) {
        process.stdout.write(`${g.type} ${g.model} (${g.id}): ${g.graded} graded now, ${g.reused} already graded${g.failed ? `, ${g.failed} unusable replies (recorded as failed, with the reply)` : ""}\n`);
      }
      process.stdout.write(`summary: ${join(dir, "summary.json")}\n`);
    });
}
