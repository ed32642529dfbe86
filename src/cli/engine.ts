import type { Command } from "commander";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { HeldoutError } from "../core/errors.js";

/**
 * `heldout engine build`: node-llama-cpp built from the llama.cpp source it ships, for this
 * machine, offline: OpenMP on (the prebuilt binaries' per-decode thread spawning collapses
 * generation 20–35× at 2 threads on small machines), portable CPU code (GGML_NATIVE off: the
 * options heldout looks the build up by), CUDA with --cuda. `binary: auto` uses the result from then on.
 */
export function registerEngine(program: Command): void {
  const engine = program.command("engine").description("build the embedded engine from source for this machine");
  engine
    .command("build")
    .description("build node-llama-cpp from its bundled llama.cpp source with OpenMP (offline, ~3 minutes on 2 cores)")
    .option("--cuda", "build the CUDA backend too (needs nvcc)")
    .action((flags: { cuda?: boolean }) => {
      const require = createRequire(import.meta.url);
      const main = require.resolve("node-llama-cpp");
      const marker = "node_modules/node-llama-cpp/";
      const root = main.includes(marker) ? main.slice(0, main.lastIndexOf(marker) + marker.length - 1) : dirname(dirname(main));
      const cli = join(root, "dist/cli/cli.js");
      if (!existsSync(cli)) throw new HeldoutError("engine-missing", "node-llama-cpp is not installed: run npm install", { file: root });
      const release = (JSON.parse(readFileSync(join(root, "llama/binariesGithubRelease.json"), "utf8")) as { release: string }).release;
      const gpu = flags.cuda ? "cuda" : "false";
      if (flags.cuda && spawnSync("nvcc", ["--version"]).status !== 0) throw new HeldoutError("no-nvcc", "--cuda needs the CUDA compiler (nvcc) on PATH");
      const env = {
        ...process.env,
        NODE_LLAMA_CPP_CMAKE_OPTION_GGML_NATIVE: "OFF",
        NODE_LLAMA_CPP_CMAKE_OPTION_GGML_OPENMP: "ON",
      };
      process.stderr.write(`heldout: building node-llama-cpp's engine from its bundled llama.cpp source (release ${release}), OpenMP on, portable CPU code, GPU ${gpu}: about 3 minutes on 2 cores\n`);
      const steps: string[][] = [
        // Unpacks the source bundle node-llama-cpp ships: no network.
        ["source", "download", "--release", release, "--skipBuild"],
        ["source", "build", "--gpu", gpu],
      ];
      for (const args of steps) {
        const r = spawnSync(process.execPath, [cli, ...args], { stdio: "inherit", env });
        if (r.status !== 0) throw new HeldoutError("engine-build-failed", `node-llama-cpp ${args.slice(0, 2).join(" ")} failed (exit ${r.status ?? r.signal}); the prebuilt binaries stay in use`);
      }
      process.stderr.write("heldout: built; runs with `binary: auto` (the default) now use it, and every run records which binary ran\n");
    });
}
