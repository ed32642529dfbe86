import { existsSync, mkdirSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { adjustComparisons, type PairedComparison } from "../stats/paired.js";
import type { RunOutcome } from "../runner/run.js";
import { loadModelSpec, resolveModel } from "../store/models.js";
import { loadRun } from "../store/runs.js";
import { ABLATION_FILE } from "../store/weights-files.js";
import { ABLATION_PARTS, AblationRuleError, ablationDir, ablationName, blockCount, deleteAblated, writeAblated, type Ablation } from "./ablated-gguf.js";
import { ggufTensors } from "./gguf-tensors.js";
import { compareVariants, runModels, writeVariantManifest, type StudyRun } from "./variant-run.js";

/**
 * `heldout ablate`: which blocks a suite's areas depend on. Each variant zeroes some blocks'
 * attention and/or feed-forward output projections; the suite runs on the intact model, a control
 * copy with nothing zeroed, and every variant (one run), and each variant's per-area pass rates
 * are compared with the intact model's, task by task.
 */

export interface AblateOptions extends StudyRun {
  modelFile: string;
  /** One variant per entry. */
  ablations: Ablation[];
  control: boolean;
  deleteVariants: boolean;
}

export interface AblationVariant {
  name: string;
  modelId: string;
  ablation: Ablation;
  file: string;
  zeroed: { tensor: string; type: string; bytes: number }[];
  passRate: number | null;
  overall: PairedComparison;
  /** Per area; p-values Holm-adjusted across every variant × area cell of the run. */
  areas: { area: string; passRate: number | null; intactPassRate: number | null; comparison: PairedComparison }[];
}

export interface AblationFile {
  schemaVersion: 1;
  source: { modelId: string; file: string; sha256: string; blocks: number };
  suite: { name: string; hash: string };
  intact: { modelId: string; passRate: number | null; areas: { area: string; passRate: number | null }[] };
  /** The control (a copy written the same way, nothing zeroed): does it reproduce the intact model's outputs? */
  control: { modelId: string; tasks: number; differingOutputs: number; identical: boolean } | null;
  variants: AblationVariant[];
  variantsDeleted: boolean;
}

/** Each variant is a full copy of the model: refuse before writing any when the disk cannot hold them all. */
function checkFreeSpace(dir: string, bytes: number): void {
  if (bytes === 0) return;
  mkdirSync(dir, { recursive: true });
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  if (free < bytes * 1.05) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
    throw new HeldoutError("disk-full", `the ablation variants need ${gib(bytes)} (one copy of the model each) and ${dir} has ${gib(free)} free: ablate fewer blocks (--blocks), fewer parts, or point HELDOUT_CACHE_DIR at a larger disk`, { file: dir });
  }
}

/** `all` or a comma list of block numbers; parts a comma list of attn, ffn, attn+ffn. */
export function parseAblations(blocks: string, parts: string, count: number): Ablation[] {
  const blockList = blocks.trim() === "all" ? Array.from({ length: count }, (_, i) => String(i)) : blocks.split(",").map((b) => b.trim());
  const numbers = blockList.map((b) => {
    const n = /^\d+$/.test(b) ? Number(b) : Number.NaN;
    if (!Number.isInteger(n) || n < 0 || n >= count) throw new HeldoutError("invalid-option", `--blocks: "${b}" is not a block of this model (it has blocks 0–${count - 1}); give all or numbers like 0,3`, { field: "blocks" });
    return n;
  });
  const partList = parts.split(",").map((p) => p.trim()).filter(Boolean);
  if (partList.length === 0) throw new HeldoutError("invalid-option", "--parts names nothing; give attn, ffn or attn+ffn", { field: "parts" });
  const combos = partList.map((p) => {
    const each = p.split("+").map((x) => x.trim());
    for (const x of each) if (x !== "attn" && x !== "ffn") throw new HeldoutError("invalid-option", `--parts: "${x}" is not attn or ffn`, { field: "parts" });
    // One order per combination (attn before ffn), so ffn+attn and attn+ffn are one variant.
    return ABLATION_PARTS.filter((part) => each.includes(part));
  });
  const unique = [...new Map(combos.map((c) => [c.join("+"), c])).values()];
  return [...new Set(numbers)].flatMap((b) => unique.map((parts) => ({ blocks: [b], parts })));
}

export async function ablate(options: AblateOptions): Promise<{ outcome: RunOutcome; file: AblationFile | null }> {
  const spec = loadModelSpec(options.modelFile);
  if (spec.backend !== "llama") throw new HeldoutError("invalid-model", `ablate needs a GGUF model (backend llama); "${spec.id}" is backend ${spec.backend}`, { file: options.modelFile, field: "backend" });
  const source = await resolveModel(spec);
  const blocks = blockCount(await ggufTensors(source.path));
  const dir = ablationDir(source.sha256);
  const list = options.control ? [{ blocks: [], parts: [] } as Ablation, ...options.ablations] : options.ablations;
  checkFreeSpace(dir, list.filter((a) => !existsSync(join(dir, `${ablationName(a)}.gguf`))).length * source.sizeBytes);
  const written = [];
  for (const ablation of list) {
    let file;
    try {
      file = await writeAblated(source.path, source.sha256, ablation);
    } catch (error) {
      if (error instanceof AblationRuleError) throw new HeldoutError("invalid-option", error.message, { field: "blocks" });
      throw new HeldoutError("ablation-write-failed", (error as Error).message, { file: ablationDir(source.sha256) });
    }
    const modelId = `${spec.id}-ablate-${file.name}`;
    const what = file.zeroed.length ? `zeroed ${file.zeroed.map((z) => z.tensor).join(", ")}` : "control: nothing zeroed";
    const manifest = writeVariantManifest(dir, modelId, file.path, spec.runtime, `${spec.id} (${source.path}, sha256 ${source.sha256}) with ${what}`);
    written.push({ ablation, file, modelId, manifest });
  }
  if (!options.quiet) process.stderr.write(`ablation variants in ${dir}: ${written.map((w) => w.file.name + (w.file.cached ? " (cached)" : "")).join(", ")}\n`);
  const outcome = await runModels(options, [options.modelFile, ...written.map((w) => w.manifest)]);
  if (outcome.interrupted) return { outcome, file: null };
  const run = loadRun(outcome.dir);
  // The control is not a hypothesis: only the ablated variants form the family of tests.
  const controlWritten = options.control ? written[0] : undefined;
  const compared = compareVariants(run, spec.id, written.filter((w) => w !== controlWritten).map((w) => w.modelId));
  // The heat map is read cell by cell: Holm across every variant × area cell, not within a variant only.
  const cells = compared.variants.flatMap((v) => v.comparison.areas);
  const adjusted = cells.length > 1 ? adjustComparisons(cells.map((a) => a.comparison)) : cells.map((a) => a.comparison);
  cells.forEach((a, i) => {
    a.comparison = adjusted[i] ?? a.comparison;
  });
  const areaRate = (cellId: string, area: string) => run.summary.cells.find((c) => c.cellId === cellId)?.areas.find((a) => a.area === area)?.passRate ?? null;
  let control: AblationFile["control"] = null;
  if (controlWritten) {
    const cellOf = (modelId: string) => run.summary.cells.find((c) => c.modelId === modelId)?.cellId;
    const outputs = (cellId: string | undefined) => new Map(run.records.filter((r) => r.cellId === cellId).map((r) => [`${r.taskId}\u0000${r.sample}`, r.output]));
    const intact = outputs(cellOf(spec.id));
    const copy = outputs(cellOf(controlWritten.modelId));
    let differing = 0;
    for (const [key, out] of intact) if (copy.get(key) !== out) differing++;
    for (const key of copy.keys()) if (!intact.has(key)) differing++;
    control = { modelId: controlWritten.modelId, tasks: intact.size, differingOutputs: differing, identical: differing === 0 && intact.size > 0 };
  }
  const variants: AblationVariant[] = written
    .filter((w) => w !== controlWritten)
    .map((w) => {
      const c = compared.variants.find((v) => v.modelId === w.modelId);
      if (!c) throw new Error(`no comparison for ${w.modelId}`);
      return {
        name: w.file.name,
        modelId: w.modelId,
        ablation: w.ablation,
        file: w.file.path,
        zeroed: w.file.zeroed,
        passRate: c.cell.passRate,
        overall: c.comparison.overall,
        areas: c.comparison.areas.map((a) => ({ area: a.area, passRate: areaRate(c.cell.cellId, a.area), intactPassRate: areaRate(compared.base.cellId, a.area), comparison: a.comparison })),
      };
    });
  const file: AblationFile = {
    schemaVersion: 1,
    source: { modelId: spec.id, file: source.path, sha256: source.sha256, blocks },
    suite: { name: run.summary.suite.name, hash: run.summary.suite.hash },
    intact: { modelId: spec.id, passRate: compared.base.passRate, areas: compared.base.areas.map((a) => ({ area: a.area, passRate: a.passRate })) },
    control,
    variants,
    variantsDeleted: options.deleteVariants,
  };
  if (options.deleteVariants) deleteAblated(source.sha256);
  writeFileSync(join(outcome.dir, ABLATION_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return { outcome, file };
}
