import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { HeldoutError } from "../core/errors.js";
import { DEFAULT_RUNTIME, parseModelSpec } from "../core/model-spec.js";
import type { ModelSpec } from "../core/types.js";

/** Reading model manifests, finding the weights they point at, and fingerprinting those files. */

export function loadModelSpec(path: string): ModelSpec {
  if (!existsSync(path)) throw new HeldoutError("model-not-found", "model manifest not found", { file: path });
  if (/\.gguf$/i.test(path)) {
    // A bare GGUF path is a manifest with one source and default settings.
    return { id: basename(path).replace(/\.gguf$/i, ""), backend: "llama", sources: [resolve(path)], runtime: { ...DEFAULT_RUNTIME }, file: path };
  }
  return parseModelSpec(path, readFileSync(path, "utf8"));
}

export interface ResolvedModel {
  /** The GGUF file; empty for a model on a server. */
  path: string;
  source: string;
  sizeBytes: number;
  /**
   * The file's sha256; for a model on a server (whose file heldout cannot read) a sha256 of its
   * identity (backend, name, API): the server's own digest is recorded when the model loads.
   */
  sha256: string;
  /** Sources tried before the one that worked, with why each failed. */
  skipped: string[];
}

/**
 * Tries each source in order: a path (relative to the manifest's folder) or an `hf:` URI resolved
 * by node-llama-cpp (which downloads only where the network allows). Then hashes the file and
 * checks the manifest's sha256.
 */
export async function resolveModel(spec: ModelSpec): Promise<ResolvedModel> {
  if (spec.server) {
    const identity = { backend: spec.backend, model: spec.server.model, api: spec.server.api };
    return { path: "", source: spec.server.endpoints.join(", "), sizeBytes: 0, sha256: createHash("sha256").update(JSON.stringify(identity)).digest("hex"), skipped: [] };
  }
  const skipped: string[] = [];
  const base = spec.file && !/\.gguf$/i.test(spec.file) ? dirname(resolve(spec.file)) : process.cwd();
  for (const source of spec.sources) {
    let path: string | undefined;
    if (/^(hf|huggingface):/i.test(source) || /^https?:\/\//i.test(source)) {
      try {
        path = await resolveRemote(source);
      } catch (error) {
        skipped.push(`${source}: ${(error as Error).message.split("\n")[0]}`);
        continue;
      }
    } else {
      path = isAbsolute(source) ? source : resolve(base, source);
      if (!existsSync(path)) {
        skipped.push(`${source}: no such file (${relative(process.cwd(), path) || path})`);
        continue;
      }
    }
    const sizeBytes = statSync(path).size;
    const sha256 = await fileSha256(path);
    if (spec.sha256 && spec.sha256 !== sha256) {
      throw new HeldoutError("model-sha256-mismatch", `model "${spec.id}": ${path} has sha256 ${sha256}, the manifest expects ${spec.sha256}`, { file: spec.file, field: "sha256" });
    }
    return { path, source, sizeBytes, sha256, skipped };
  }
  throw new HeldoutError("model-not-found", `model "${spec.id}": no source could be loaded:\n  ${skipped.join("\n  ")}`, { file: spec.file, field: "sources" });
}

async function resolveRemote(uri: string): Promise<string> {
  const { resolveModelFile } = await import("node-llama-cpp");
  const directory = join(cacheDir(), "models");
  mkdirSync(directory, { recursive: true });
  // Give up quickly on machines without a route to the hub instead of hanging the run.
  const signal = AbortSignal.timeout(Number(process.env.HELDOUT_DOWNLOAD_TIMEOUT_MS ?? 30_000));
  return resolveModelFile(uri, { directory, cli: false, signal, verify: false });
}

export function cacheDir(): string {
  return process.env.HELDOUT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "heldout");
}

/**
 * sha256 of a file, cached by absolute path + size + mtime so a 40 GB file is read once; a changed
 * file (new size or mtime) is hashed again.
 */
export async function fileSha256(path: string): Promise<string> {
  const abs = resolve(path);
  const st = statSync(abs);
  const key = `${abs}|${st.size}|${st.mtimeMs}`;
  const cacheFile = join(cacheDir(), "sha256.json");
  let cache: Record<string, string> = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, "utf8")) as Record<string, string>;
  } catch {
    cache = {};
  }
  const hit = cache[key];
  if (hit) return hit;
  const hash = createHash("sha256");
  await new Promise<void>((done, fail) => {
    createReadStream(abs)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => done())
      .on("error", fail);
  });
  const digest = hash.digest("hex");
  try {
    mkdirSync(dirname(cacheFile), { recursive: true });
    // Re-read before writing so two runs hashing different files do not drop each other's entries.
    let latest: Record<string, string> = {};
    try {
      latest = JSON.parse(readFileSync(cacheFile, "utf8")) as Record<string, string>;
    } catch {
      latest = {};
    }
    latest[key] = digest;
    writeFileSync(cacheFile, JSON.stringify(latest));
  } catch {
    // A read-only cache only costs time.
  }
  return digest;
}
