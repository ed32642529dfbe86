import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
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
