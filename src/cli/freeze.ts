import type { Command } from "commander";
import { HeldoutError } from "../core/errors.js";
import { makeSplit, parseSplitSpec, splitSizes, type SuiteSplit } from "../core/split.js";
import type { Suite } from "../core/types.js";
import { checkFrozen, loadSuite, readLock, writeLock } from "../store/suite-files.js";

interface FreezeFlags {
  split?: string;
  seed?: string;
}

export function registerFreeze(program: Command): void {
  program
    .command("freeze")
    .description("write a suite's lock file (sha256 of its normalised content and task count)")
    .argument("<dir>", "suite directory")
    .option("--split <shares>", "seal a held-out split, stratified by area: dev=0.3,test=0.7 (runs use dev unless --split test --unseal); `none` removes one")
    .option("--seed <n>", "seed of the split's draw (with --split)")
    .action((dir: string, flags: FreezeFlags) => {
      const suite = loadSuite(dir);
      const before = checkFrozen(suite);
      const split = chooseSplit(suite, flags);
      const lock = writeLock(suite, split.split);
      const change = before.state === "unfrozen" && !before.reason.includes("has no") ? ` (was: ${before.reason.replace(/^.*?: /, "")})` : "";
      process.stdout.write(`froze ${suite.name}: ${lock.taskCount} tasks, sha256 ${lock.hash}${change}\n`);
      if (split.split) {
        const sizes = [...splitSizes(split.split, suite)].map(([part, areas]) => `${part} ${[...areas.values()].reduce((a, b) => a + b, 0)}`).join(", ");
        process.stdout.write(`split (seed ${split.split.seed}${split.kept ? ", kept from the previous lock" : ""}): ${sizes}; split sha256 ${split.split.hash}\n`);
      }
    });
}

/** The split to write: a new one (--split), none (--split none), or the previous lock's shares and seed drawn again. */
function chooseSplit(suite: Suite, flags: FreezeFlags): { split?: SuiteSplit; kept: boolean } {
  if (flags.split === "none") {
    if (flags.seed !== undefined) throw new HeldoutError("invalid-option", "--seed goes with a split; --split none removes it");
    return { kept: false };
  }
  if (flags.split === undefined) {
    if (flags.seed !== undefined) throw new HeldoutError("invalid-option", "--seed needs --split (e.g. --split dev=0.3,test=0.7 --seed 7)");
    const previous = readLock(suite.dir)?.split;
    return previous ? { split: makeSplit(suite, previous.fractions, previous.seed), kept: true } : { kept: false };
  }
  if (flags.seed === undefined) throw new HeldoutError("invalid-option", "--split needs --seed N, so the draw can be repeated");
  const seed = Number(flags.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new HeldoutError("invalid-option", `--seed must be a whole number from 0 to 4294967295, got ${flags.seed}`);
  return { split: makeSplit(suite, parseSplitSpec(flags.split), seed), kept: false };
}
