import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import type { RuntimeSettings } from "../core/types.js";

/**
 * Getting a node-llama-cpp `Llama` (the native binding) the way a bench needs it: a known binary,
 * a GPU only once a child process has shown it can decode, and a record of what was loaded.
 */

/** The options a source build must be made with for heldout to find it (the build folder is keyed by them). */
export const SOURCE_BUILD_CMAKE_OPTIONS = { GGML_NATIVE: "OFF", GGML_OPENMP: "ON" } as const;

export interface EngineInfo {
  binary: "prebuilt" | "localBuild";
  /** The CPU backend library llama.cpp picked at load time (e.g. "zen4", "haswell"), when the log names it. */
  cpuVariant: string | null;
  gpu: string | false;
  gpuFallback: string | null;
  cpuMathCores: number;
  systemInfo: string;
  llamaCppRelease: string;
  /** Time to load the native binding (and probe the GPU), once per process. */
  initMs: number;
  cmakeOptions: Record<string, string>;
}

export interface Engine {
  llama: Llama;
  info: EngineInfo;
  /** Warnings llama.cpp logged (capped), kept for the manifest rather than printed over the progress line. */
  warnings: string[];
}

const engines = new Map<string, Promise<Engine>>();

/** One binding per binary × GPU choice for the whole process: node-llama-cpp loads a binding once. */
export function getEngine(runtime: Pick<RuntimeSettings, "binary" | "gpu">, probeModelPath: string): Promise<Engine> {
  const key = `${runtime.binary}/${runtime.gpu}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = createEngine(runtime, probeModelPath);
    engines.set(key, engine);
    engine.catch(() => engines.delete(key));
  }
  return engine;
}

export async function disposeEngines(): Promise<void> {
  const all = [...engines.values()];
  engines.clear();
  for (const e of all) await e.then((x) => x.llama.dispose()).catch(() => undefined);
}

async function createEngine(runtime: Pick<RuntimeSettings, "binary" | "gpu">, probeModelPath: string): Promise<Engine> {
  const started = performance.now();
  const warnings: string[] = [];
  const seen: { cpuVariant: string | null } = { cpuVariant: null };
  const logger = (level: LlamaLogLevel, message: string) => {
    const variant = /load_backend: loaded CPU backend from .*libggml-cpu-?([A-Za-z0-9_]*)\.(so|dll|dylib)/.exec(message);
    if (variant) seen.cpuVariant = variant[1] || "generic";
    if ((level === LlamaLogLevel.warn || level === LlamaLogLevel.error) && warnings.length < 50) warnings.push(message.trim());
    if (process.env.HELDOUT_ENGINE_LOG) process.stderr.write(`[llama ${level}] ${message}\n`);
  };
  let llama = await loadBinding(runtime.binary, runtime.gpu === "cpu" ? false : "auto", logger);
  let gpuFallback: string | null = null;
  if (llama.gpu !== false) {
    // A GPU binding can initialise fine and then abort the whole process at its first decode
    // (seen: a CUDA build newer than the driver). Only a child process survives that, so prove
    // the GPU there before trusting it here.
    const probe = await probeGpu(runtime.binary, probeModelPath);
    if (!probe.ok) {
      gpuFallback = probe.reason;
      warnings.push(`GPU disabled, running on the CPU: ${probe.reason}`);
      await llama.dispose();
      llama = await loadBinding(runtime.binary, false, logger);
    }
  }
  // The native log reaches this thread asynchronously: under load the line naming the CPU variant
  // can arrive after the binding resolves (seen: null in one engine host, the variant in the next).
  // x64 prebuilt binaries always log it, so wait for it a little.
  for (let waited = 0; seen.cpuVariant === null && llama.buildType !== "localBuild" && process.arch === "x64" && waited < 2000; waited += 20) {
    await new Promise((done) => setTimeout(done, 20));
  }
  // Debug level was only needed to see which CPU variant loaded; per-token debug logs would cost time.
  llama.logLevel = LlamaLogLevel.warn;
  const release = llama.llamaCppRelease;
  return {
    llama,
    warnings,
    info: {
      binary: llama.buildType,
      // A local build has one CPU backend compiled in, so llama.cpp logs no variant for it.
      cpuVariant: seen.cpuVariant ?? (llama.buildType === "localBuild" ? "built-here" : null),
      gpu: llama.gpu,
      gpuFallback,
      cpuMathCores: llama.cpuMathCores,
      systemInfo: llama.systemInfo,
      llamaCppRelease: `${release.repo}@${release.release}`,
      initMs: performance.now() - started,
      cmakeOptions: { ...llama.cmakeOptions },
    },
  };
}

async function loadBinding(binary: RuntimeSettings["binary"], gpu: "auto" | false, logger: (level: LlamaLogLevel, message: string) => void): Promise<Llama> {
  const common = { gpu, logLevel: LlamaLogLevel.debug, logger, progressLogs: false, skipDownload: true } as const;
  if (binary === "prebuilt") return getLlama({ ...common, build: "never", usePrebuiltBinaries: true });
  try {
    return await getLlama({ ...common, build: "never", usePrebuiltBinaries: false, cmakeOptions: { ...SOURCE_BUILD_CMAKE_OPTIONS } });
  } catch (error) {
    if (binary === "source") {
      throw new Error(`runtime.binary is "source" but no local build of node-llama-cpp with OpenMP was found; build it once (offline, ~3 min) with: heldout engine build\n(${(error as Error).message})`);
    }
    return getLlama({ ...common, build: "never", usePrebuiltBinaries: true });
  }
}

export type ProbeResult = { ok: true; gpu: string | false } | { ok: false; reason: string };

/** Runs dist/backends/llama-probe.js: load the model on the GPU, decode a few tokens, report. */
export function probeGpu(binary: RuntimeSettings["binary"], modelPath: string, timeoutMs = 180_000): Promise<ProbeResult> {
  const script = fileURLToPath(new URL("./llama-probe.js", import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, modelPath, binary], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      try {
        const parsed = JSON.parse(line) as { ok: boolean; gpu: string | false; error?: string };
        if (parsed.ok) return resolve({ ok: true, gpu: parsed.gpu });
        return resolve({ ok: false, reason: `the ${parsed.gpu || "GPU"} backend failed a test decode: ${parsed.error ?? "unknown error"}` });
      } catch {
        const tail = err.trim().split("\n").slice(-3).join(" | ");
        resolve({ ok: false, reason: `the GPU test process died (${signal ?? `exit ${code}`})${tail ? `: ${tail}` : ""}` });
      }
    });
  });
}
