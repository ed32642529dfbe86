import { collect } from "./options.js";
import type { Command } from "commander";
import { disposeEngines } from "../backends/llama-engine.js";
import { checkTokens } from "../check/token-sources.js";
import { exitCodeOf, formatTokensReport } from "../check/tokens.js";
import { HeldoutError } from "../core/errors.js";
import { DEFAULT_PROFILE, DEFAULT_SUITE } from "./run.js";

interface CheckTokensFlags {
  suite: string;
  model?: string[];
  profile: string;
  backends?: string;
  json?: boolean;
  show: string;
  quiet?: boolean;
}

/** `heldout check tokens`: do the backends feed the model the same token ids for every prompt? */
export function registerCheckTokens(check: Command): void {
  check
    .command("tokens")
    .description("tokenization agreement: the token ids each backend feeds the model for every prompt of a suite, and the GGUF's tokenizer traps")
    .option("--suite <dir>", "suite whose prompts are checked", DEFAULT_SUITE)
    .option("--model <file>", "a GGUF model (manifest or .gguf), and any server manifests (backend: openai or ollama) serving the same model; repeat", collect)
    .option("--profile <file>", "profile whose prompt variants (template, few-shot, system) are rendered", DEFAULT_PROFILE)
    .option("--backends <list>", "comma-separated: llama (node-llama-cpp), llama-server, llama-server-chat (its own chat rendering), openai, ollama (default: llama and llama-server for a GGUF, llama-server-chat when the suite applies its chat template, plus the servers given)")
    .option("--json", "print the report as JSON")
    .option("--show <n>", "mismatches printed per backend", "5")
    .option("-q, --quiet", "no progress lines")
    .addHelpText(
      "after",
      `
Exit status: 0 when every backend agrees and no tokenizer trap was found; 1 on a mismatch, a
backend that failed, or a trap warning; 2 for bad input.

Examples:
  heldout check tokens --suite tasks/arith --model models/arith-step600.yaml
  heldout check tokens --suite tasks/tinystories --model models/stories260k.yaml --model my-ollama.yaml --backends llama,ollama`,
    )
    .action(async (flags: CheckTokensFlags) => {
      if (!flags.model || flags.model.length === 0) throw new HeldoutError("invalid-option", "check tokens needs --model FILE (a manifest or a .gguf)", { field: "--model" });
      const show = Number(flags.show);
      if (!Number.isInteger(show) || show < 0) throw new HeldoutError("invalid-option", `--show takes a whole number, got "${flags.show}"`, { field: "--show" });
      const backends = flags.backends === undefined ? undefined : flags.backends.split(",").map((s) => s.trim()).filter(Boolean);
      if (backends !== undefined && backends.length === 0) throw new HeldoutError("invalid-option", "--backends lists no backend", { field: "--backends" });
      const progress = !flags.quiet && !flags.json && process.stderr.isTTY === true;
      try {
        const { report, vocab } = await checkTokens({
          suiteDir: flags.suite,
          modelFiles: flags.model,
          profileFile: flags.profile,
          ...(backends ? { backends } : {}),
          ...(progress ? { onProgress: (line: string) => process.stderr.write(`${line}\n`) } : {}),
        });
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatTokensReport(report, vocab, show)}\n`);
        process.exitCode = exitCodeOf(report);
      } finally {
        await disposeEngines();
      }
    });
}
