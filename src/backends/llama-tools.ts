import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { HeldoutError, StoppedBySignal } from "../core/errors.js";
import { createRequire } from "node:module";

/**
 * Where bench/build-llama-tools.sh caches llama.cpp's own tools (llama-server, llama-bench,
 * llama-quantize), built from the source node-llama-cpp ships: keyed by the bundle's commit.
 */
export function llamaToolsDir(): string | null {
  const require = createRequire(import.meta.url);
  let bundle: string;
  try {
    const main = require.resolve("node-llama-cpp");
    const marker = "node_modules/node-llama-cpp/";
    bundle = join(main.slice(0, main.lastIndexOf(marker) + marker.length), "llama/gitRelease.bundle");
  } catch {
    return null;
  }
  if (!existsSync(bundle)) return null;
  const heads = execFileSync("git", ["bundle", "list-heads", bundle], { encoding: "utf8" });
  const commit = heads.trim().split("\n")[0]?.slice(0, 12) ?? "";
  const cache = process.env.HELDOUT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "heldout");
  return join(cache, `llama.cpp-${commit}`, "build", "bin");
}

export const BUILD_TOOLS_HINT = "bash bench/build-llama-tools.sh (offline, about 5 minutes on 2 cores)";

/** The path of one of llama.cpp's tools when it is built, else null. */
export function llamaToolPath(name: string): string | null {
  const bin = llamaToolsDir();
  const path = bin ? join(bin, name) : null;
  return path && existsSync(path) ? path : null;
}

/** The path of one of llama.cpp's tools, or an error saying how to build them. */
export function llamaTool(name: string): string {
  const path = llamaToolPath(name);
  if (!path) throw new HeldoutError("tool-missing", `${name} is not built; build llama.cpp's tools with: ${BUILD_TOOLS_HINT}`);
  return path;
}

const execFileAsync = promisify(execFile);

/**
 * Runs one of llama.cpp's tools to the end and returns what it printed (stdout, then stderr). A
 * tool stopped by Ctrl-C or SIGTERM rejects with StoppedBySignal; any other failure with an Error
 * that ends with the tool's last lines.
 */
export async function runLlamaTool(name: string, args: readonly string[]): Promise<string> {
  const path = llamaTool(name);
  try {
    const out = await execFileAsync(path, args, { maxBuffer: 256 * 2 ** 20 });
    return `${out.stdout}${out.stderr}`;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string; signal?: string };
    if (e.signal === "SIGINT" || e.signal === "SIGTERM") throw new StoppedBySignal(`${name} was stopped (${e.signal})`);
    const tail = `${e.stdout ?? ""}${e.stderr ?? e.message}`.trim().split("\n").slice(-4).join("\n  ");
    throw new Error(`${name} failed:\n  ${tail}`);
  }
}
