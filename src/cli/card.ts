import type { Command } from "commander";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { buildCard, cardFormatOf, renderCard, verifyCard, type ResultCard } from "../report/card.js";
import { loadRun } from "../store/runs.js";
import { loadSuite } from "../store/suite-files.js";
import { packageVersion } from "../system/fingerprint.js";

interface CardFlags {
  out?: string;
  reveal?: string;
  results: string;
  suite?: string;
}

const splitIds = (s: string | undefined) => (s ?? "").split(",").map((x) => x.trim()).filter((x) => x !== "");

export function registerCard(program: Command): void {
  const card = program
    .command("card")
    .description("publish a run's comparison without its tasks: suite hash, counts, a Merkle root over the tasks, models, settings, figures with intervals, verdicts, hardware (never a prompt, answer or output)")
    .argument("<run>", "run directory, or a run id under the results root")
    .option("--out <file>", "write the card here; the format follows the extension: .json (canonical), .md, .svg (default: JSON to stdout)")
    .option("--reveal <ids>", "comma-separated task ids to disclose in full, each with its Merkle inclusion proof (JSON card)")
    .option("--suite <dir>", "the run's suite folder (default: the one its manifest names); `card verify`: the suite to check against")
    .option("--results <dir>", "results root for run ids", "results")
    .addHelpText(
      "after",
      `
Examples:
  heldout card myrun --out card.json             the card, canonical JSON (the source of truth)
  heldout card myrun --out card.md               a table for a pull request; card.svg: a badge-like image
  heldout card myrun --out card.json --reveal add-001,mul-004
  heldout card verify card.json --suite tasks/arith   exit 0 when the card matches the suite, 1 when not`,
    )
    .action((run: string, flags: CardFlags) => {
      const loaded = loadRun(run, flags.results);
      const suiteDir = flags.suite ?? loaded.manifest.suite.dir;
      const suite = loadSuite(suiteDir);
      const format = flags.out ? cardFormatOf(flags.out) : "json";
      if (!format) throw new HeldoutError("invalid-argument", `--out ${flags.out}: the extension must be .json, .md or .svg`);
      let result: ResultCard;
      try {
        result = buildCard(loaded, suite, { heldoutVersion: packageVersion("heldout"), reveal: splitIds(flags.reveal) });
      } catch (error) {
        throw new HeldoutError("card-failed", (error as Error).message, { file: suiteDir });
      }
      if (result.reveal.length && format !== "json") process.stderr.write(`note: the revealed tasks' proofs are only in the JSON card\n`);
      const text = renderCard(result, format);
      if (flags.out) {
        mkdirSync(dirname(flags.out), { recursive: true });
        writeFileSync(flags.out, text);
      } else {
        process.stdout.write(text);
      }
    });

  card
    .command("verify")
    .description("check a card (JSON) against a suite one holds: Merkle root, suite hash, task count, per-area counts; and every revealed task's proof")
    .argument("<card>", "the card, as written by `heldout card <run> --out card.json`")
    .option("--suite <dir>", "the suite to check against (without it only the revealed tasks' proofs are checked)")
    .action((file: string, _flags: { suite?: string }, command: Command) => {
      // `--suite` is also an option of `card`, which takes it when given after `verify`: read both.
      const flags = command.optsWithGlobals<{ suite?: string }>();
      if (!existsSync(file)) throw new HeldoutError("card-not-found", "no such card file", { file });
      let parsed: ResultCard;
      try {
        parsed = JSON.parse(readFileSync(file, "utf8")) as ResultCard;
      } catch (error) {
        throw new HeldoutError("invalid-card", `not JSON: ${(error as Error).message}`, { file });
      }
      if (!parsed || typeof parsed !== "object" || !parsed.suite?.merkle) throw new HeldoutError("invalid-card", "not a heldout result card (a JSON card is needed)", { file });
      const suite = flags.suite ? loadSuite(flags.suite) : undefined;
      const check = verifyCard(parsed, suite);
      for (const line of check.passed) process.stdout.write(`ok: ${line}\n`);
      for (const line of check.problems) process.stdout.write(`FAIL: ${line}\n`);
      if (!suite) process.stdout.write(`note: no --suite given: only the revealed tasks' proofs were checked\n`);
      process.stdout.write(check.ok ? `card verifies\n` : `card does not verify\n`);
      process.exitCode = check.ok ? 0 : 1;
    });
}
