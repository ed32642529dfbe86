import type { Command } from "commander";
import { registerCheckThroughput } from "./check-throughput.js";
import { registerCheckDeterminism } from "./check-determinism.js";
import { registerCheckTokens } from "./check-tokens.js";

/**
 * `heldout check ...`: is the measurement itself trustworthy? Each subcommand lives in its own
 * file (src/cli/check-*.ts) and registers itself on the `check` command here.
 */
export function registerCheck(program: Command): void {
  const check = program
    .command("check")
    .description("check the measurement itself: tokenization agreement across backends, output invariance under batching, throughput reconciliation");
  registerCheckDeterminism(check);
  registerCheckThroughput(check);
  registerCheckTokens(check);
  void check;
}
