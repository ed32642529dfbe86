import type { Command } from "commander";
import { checkFrozen, loadSuite, writeLock } from "../store/suite-files.js";

export function registerFreeze(program: Command): void {
  program
    .command("freeze")
    .description("write a suite's lock file (sha256 of its normalised content and task count)")
    .argument("<dir>", "suite directory")
    .action((dir: string) => {
      const suite = loadSuite(dir);
      const before = checkFrozen(suite);
      const lock = writeLock(suite);
      const change = before.state === "unfrozen" && !before.reason.includes("has no") ? ` (was: ${before.reason.replace(/^.*?: /, "")})` : "";
      process.stdout.write(`froze ${suite.name}: ${lock.taskCount} tasks, sha256 ${lock.hash}${change}\n`);
    });
}
