import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import type { RepetitionRule } from "../stats/repetitions.js";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModelSpec, resolveModel } from "../store/models.js";
import { profilePoints, rateStats, type ProfileAxes, type ProfileResult, type ProfileTest } from "./grid.js";
import { measureCopyBandwidth, modelWeights, type ModelWeights } from "./roofline.js";
import { profileWithServer } from "./server.js";
import type { WorkerJob, WorkerLine } from "./worker.js";

/**
 * `heldout profile`: pp and tg throughput of models over lists of settings through the embedded
 * engine, each (model, binary) in its own worker process, written to results/<id>/profile.json.
 */
export interface ProfileOptions {
  modelFiles: string[];
  axes: ProfileAxes;
  tests: ProfileTest[];
  /** A fixed count, or repeat until the 95% interval is within a stated width (--reps auto). */
  reps: number | RepetitionRule;
  warmup: number;
  gpu: "auto" | "cpu";
  outDir: string;
  runId: string;
  onProgress?: (message: string) => void;
}

export async function runProfile(options: ProfileOptions): Promise<{ dir: string; results: ProfileResult[]; bandwidth: number }> {
  const results: ProfileResult[] = [];
  const points = profilePoints(options.axes);
  const bandwidth = measureCopyBandwidth();
  for (const file of options.modelFiles) {
    const spec = loadModelSpec(file);
    if (spec.server) throw new Error(`model ${spec.id}: the profiler measures the embedded engine; ${spec.backend} servers report their own timings`);
    const resolved = await resolveModel(spec);
    const weights = await modelWeights(resolved.path);
    const groups: { label: string; points: typeof points; binary?: (typeof points)[number]["binary"] }[] = [
      ...[...new Set(points.filter((p) => p.engine === "embedded").map((p) => p.binary))].map((binary) => ({ label: `the embedded engine (${binary} binary)`, binary, points: points.filter((p) => p.engine === "embedded" && p.binary === binary) })),
      ...(points.some((p) => p.engine === "llama-server") ? [{ label: "llama-server", points: points.filter((p) => p.engine === "llama-server") }] : []),
    ];
    for (const group of groups) {
      options.onProgress?.(`${spec.id}: ${group.points.length * options.tests.length} measurements with ${group.label}`);
      const lines = group.binary
        ? await runWorker({ modelPath: resolved.path, binary: group.binary, gpu: options.gpu, points: group.points, tests: options.tests, reps: options.reps, warmup: options.warmup })
        : await profileWithServer(resolved.path, group.points, options.tests, options.reps, options.warmup);
      for (const line of lines) {
        results.push({
          model: spec.id,
          modelPath: resolved.path,
          synthetic: line.engine.synthetic === true,
          point: line.point,
          test: line.test,
          engine: line.engine,
          samples: line.samples,
          stats: rateStats(line.samples),
          perSequence: rateStats(line.samples.map((s) => s / line.point.parallel)),
          roofline: roofline(weights, line, bandwidth),
          stopped: line.stopped ?? "fixed",
          error: line.error,
        });
      }
    }
  }
  const dir = join(options.outDir, options.runId);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "profile.json"), `${JSON.stringify({ kind: "profile", runId: options.runId, createdAt: new Date().toISOString(), reps: options.reps, warmup: options.warmup, copyBandwidthBytesPerSecond: bandwidth, results }, null, 2)}\n`);
  return { dir, results, bandwidth };
}

function roofline(weights: ModelWeights, line: WorkerLine, bandwidth: number): ProfileResult["roofline"] {
  const median = rateStats(line.samples).median;
  if (median === null) return null;
  if (line.test.kind === "tg") {
    // One decode step reads the weights once for all sequences: steps/s = tokens/s ÷ sequences.
    const implied = weights.bytesPerToken * (median / line.point.parallel);
    return { bytesPerToken: weights.bytesPerToken, impliedBytesPerSecond: implied, share: implied / bandwidth, flopsPerSecond: 2 * weights.parameters * median };
  }
  return { bytesPerToken: weights.bytesPerToken, impliedBytesPerSecond: null, share: null, flopsPerSecond: 2 * weights.parameters * median };
}

function runWorker(job: WorkerJob): Promise<WorkerLine[]> {
  const script = fileURLToPath(new URL("./worker.js", import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, JSON.stringify(job)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on("close", (code, signal) => {
      const lines = out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as WorkerLine);
      // A worker that died (a native crash) costs the measurements it had not printed.
      if (code !== 0) {
        const done = new Set(lines.map((l) => JSON.stringify([l.point, l.test])));
        const why = `profile worker died (${signal ?? `exit ${code}`}): ${err.trim().split("\n").slice(-3).join(" | ")}`;
        for (const point of job.points)
          for (const test of job.tests) if (!done.has(JSON.stringify([point, test]))) lines.push({ point, test, engine: {}, samples: [], error: why });
      }
      resolve(lines);
    });
  });
}
