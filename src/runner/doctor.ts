import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import type { ProfileResult } from "../profile/grid.js";
import { recommendations } from "../report/profile.js";
import { checkGgufHeader } from "../backends/gguf-header.js";
import { createBackend } from "../backends/index.js";
import { getEngine } from "../backends/llama-engine.js";
import { DEFAULT_RUNTIME } from "../core/model-spec.js";
import { HeldoutError } from "../core/errors.js";
import type { ModelSpec } from "../core/types.js";
import { loadModelSpec, resolveModel } from "../store/models.js";
import { checkFrozen, loadSuite } from "../store/suite-files.js";

/**
 * What `heldout doctor` checks before a run: the engine binary (and whether a source build would
 * help here), the GPU, the suite and its lock, and every model: files exist, hash and look like
 * GGUF; servers answer and have the model. Each check says what to do when it is not ready.
 */
export interface Check {
  subject: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

export async function runDoctor(options: { suiteDir?: string; modelFiles: string[]; resultsRoot?: string }): Promise<Check[]> {
  const checks: Check[] = [];
  // The GPU probe decodes with a real model: the first local one given.
  let firstFile = "";
  for (const file of options.modelFiles) {
    try {
      const spec = loadModelSpec(file);
      if (!spec.server) {
        firstFile = (await resolveModel(spec)).path;
        break;
      }
    } catch {
      // reported with the model's own check below
    }
  }
  try {
    const engine = await getEngine({ binary: "auto", gpu: "auto" }, firstFile);
    const info = engine.info;
    const openmp = info.cmakeOptions.GGML_OPENMP === "ON";
    const cores = cpus().length;
    checks.push({
      subject: "engine binary",
      status: info.binary === "prebuilt" && cores <= 4 ? "warn" : "ok",
      detail: `node-llama-cpp ${info.binary}${info.cpuVariant ? ` (${info.cpuVariant})` : ""}, ${openmp ? "OpenMP" : "no OpenMP"}, ${cores} CPUs`,
      ...(info.binary === "prebuilt" && cores <= 4
        ? { fix: "the prebuilt binary runs 20–35× slower with more than 1 thread on small machines (heldout uses 1); a source build with OpenMP is faster here: heldout engine build (offline, ~3 minutes)" }
        : {}),
    });
    checks.push(
      info.gpuFallback
        ? { subject: "GPU", status: "warn", detail: `not usable: ${info.gpuFallback}`, fix: "models run on the CPU; rebuild node-llama-cpp's GPU backend for this driver (see README, GPUs)" }
        : { subject: "GPU", status: "ok", detail: info.gpu === false ? "none (CPU only)" : firstFile ? `${info.gpu}, a test decode passed` : `${info.gpu} (not test-decoded: no local model given)` },
    );
  } catch (error) {
    checks.push({ subject: "engine binary", status: "fail", detail: (error as Error).message.split("\n")[0] ?? "", fix: "npm install (node-llama-cpp ships prebuilt binaries)" });
  }
  if (options.suiteDir) {
    try {
      const suite = loadSuite(options.suiteDir);
      const frozen = checkFrozen(suite);
      checks.push(
        frozen.state === "frozen"
          ? { subject: `suite ${suite.name}`, status: "ok", detail: `${suite.tasks.length} tasks, frozen (sha256 ${suite.hash.slice(0, 12)}…)` }
          : { subject: `suite ${suite.name}`, status: "warn", detail: frozen.reason, fix: `heldout freeze ${options.suiteDir}` },
      );
    } catch (error) {
      checks.push({ subject: `suite ${options.suiteDir}`, status: "fail", detail: error instanceof HeldoutError ? error.format() : (error as Error).message });
    }
  }
  for (const file of options.modelFiles) checks.push(await checkModel(file));
  checks.push(...profileAdvice(options.resultsRoot ?? "results", options.modelFiles));
  return checks;
}

/**
 * What the newest `heldout profile` of each model measured as fastest on this machine (engine,
 * binary, threads): doctor repeats it, or says how to measure it.
 */
function profileAdvice(resultsRoot: string, modelFiles: readonly string[]): Check[] {
  if (!existsSync(resultsRoot)) return [];
  const profiles = readdirSync(resultsRoot)
    .map((d) => join(resultsRoot, d, "profile.json"))
    .filter((f) => existsSync(f))
    .map((f) => ({ f, at: statSync(f).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  const checks: Check[] = [];
  for (const file of modelFiles) {
    let spec: ModelSpec;
    try {
      spec = loadModelSpec(file);
    } catch {
      continue;
    }
    if (spec.server) continue;
    const found = profiles
      .map((p) => (JSON.parse(readFileSync(p.f, "utf8")) as { results: ProfileResult[] }).results.filter((r) => r.model === spec.id))
      .find((rs) => rs.length > 0);
    if (!found) {
      checks.push({ subject: `speed ${spec.id}`, status: "ok", detail: "not profiled on this machine yet", fix: `heldout profile --model ${file} --threads 1,2 --binary prebuilt,source --engine embedded,llama-server` });
      continue;
    }
    const advice = recommendations(found);
    checks.push({ subject: `speed ${spec.id}`, status: "ok", detail: advice.length ? advice.join("; ") : "profiled with a single setting: nothing to compare" });
  }
  return checks;
}

async function checkModel(file: string): Promise<Check> {
  let spec: ModelSpec;
  try {
    spec = loadModelSpec(file);
  } catch (error) {
    return { subject: file, status: "fail", detail: error instanceof HeldoutError ? error.format() : (error as Error).message };
  }
  const subject = `model ${spec.id}`;
  try {
    const resolved = await resolveModel(spec);
    if (!spec.server) {
      checkGgufHeader(resolved.path);
      const skipped = resolved.skipped.length ? `; skipped: ${resolved.skipped.join("; ")}` : "";
      return { subject, status: "ok", detail: `${resolved.path} (${(resolved.sizeBytes / 2 ** 20).toFixed(1)} MiB, sha256 ${resolved.sha256.slice(0, 12)}…)${skipped}` };
    }
    // A server model is ready when its backend can load it: endpoints answer and have the model.
    const backend = createBackend(spec.backend);
    const loaded = await backend.load({ backend: spec.backend, runtime: { ...DEFAULT_RUNTIME, ...spec.runtime }, server: spec.server });
    await backend.unload();
    return {
      subject,
      status: loaded.warnings.length ? "warn" : "ok",
      detail: `${spec.server.model} on ${spec.server.endpoints.join(", ")}${loaded.warnings.length ? `: ${loaded.warnings.join("; ")}` : ""}`,
      ...(loaded.warnings.length ? { fix: "start the servers that did not answer, or remove them from the manifest" } : {}),
    };
  } catch (error) {
    const message = error instanceof HeldoutError ? error.format() : (error as Error).message;
    const fix = spec.server
      ? "start the server (e.g. llama-server -m model.gguf --port 8080 -a NAME, or ollama serve && ollama pull NAME) and check the manifest's endpoints and model"
      : /GGUF/.test(message)
        ? "the file is not a usable GGUF: download or convert it again"
        : "fix `sources` in the manifest, or put the file where it points";
    return { subject, status: "fail", detail: message, ...(fix ? { fix } : {}) };
  }
}
