import { readFileSync, writeFileSync } from "node:fs";
import { disposeEngines } from "../backends/llama-engine.js";
import { readBaseWindows, scoredPositions } from "./perplexity-kld.js";
import type { PromptVariant } from "../core/sweep.js";
import type { RuntimeSettings } from "../core/types.js";
import { loadSuite } from "../store/suite-files.js";
import { compareWithBase, compareWithReference, loadScorer, suiteTexts, windowTexts, writeReference, type ScoredText } from "./divergence-run.js";

/**
 * One divergence job in its own process (forked by divergence-jobs.ts), so a native crash while
 * a variant is scored costs that variant's figures, never the sweep. The job comes as a JSON file
 * path in argv; the result goes back as one JSON message over IPC.
 */

export type DivergenceJob =
  | { kind: "suite-reference"; modelPath: string; runtime: RuntimeSettings; suiteDir: string; prompt: PromptVariant; fallback: Record<string, string>; textsFile: string; scratch: string }
  | { kind: "window-reference"; modelPath: string; runtime: RuntimeSettings; baseFile: string; textsFile: string; scratch: string }
  | { kind: "compare"; modelPath: string; runtime: RuntimeSettings; textsFile: string; scratch: string; vocabulary: number; perText?: boolean }
  | { kind: "compare-base"; modelPath: string; runtime: RuntimeSettings; baseFile: string };

async function runJob(job: DivergenceJob): Promise<unknown> {
  const scorer = await loadScorer(job.modelPath, job.runtime);
  try {
    if (job.kind === "compare-base") return await compareWithBase(scorer, job.baseFile);
    if (job.kind === "compare") {
      const texts = JSON.parse(readFileSync(job.textsFile, "utf8")) as ScoredText[];
      return await compareWithReference(scorer, texts, job.scratch, job.vocabulary, job.perText === true);
    }
    let texts: ScoredText[];
    let skipped = 0;
    if (job.kind === "suite-reference") {
      const all = suiteTexts(scorer, loadSuite(job.suiteDir), job.prompt, new Map(Object.entries(job.fallback)));
      texts = all.filter((t) => t.from + t.count <= job.runtime.contextSize);
      skipped = all.length - texts.length;
    } else {
      const base = readBaseWindows(job.baseFile);
      const { first, count } = scoredPositions(base.contextSize);
      texts = windowTexts(base.windows, scorer.bosToken(), first, count);
    }
    writeFileSync(job.textsFile, JSON.stringify(texts));
    return { ...(await writeReference(scorer, texts, job.scratch)), texts: texts.length, skipped };
  } finally {
    await scorer.unload();
    await disposeEngines();
  }
}

const jobFile = process.argv[2];
if (jobFile && process.send) {
  try {
    const result = await runJob(JSON.parse(readFileSync(jobFile, "utf8")) as DivergenceJob);
    process.send({ ok: true, result }, () => process.exit(0));
  } catch (error) {
    process.send({ ok: false, error: (error as Error).message }, () => process.exit(1));
  }
}
