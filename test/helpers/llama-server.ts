import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { freePort, startLlamaServerProcess } from "../../src/backends/llama-server-process.js";

export { freePort };
import { ROOT } from "./cli.js";

/**
 * A real llama-server (llama.cpp's, built from the source node-llama-cpp ships by
 * bench/build-llama-tools.sh, cached outside git) on 127.0.0.1, for the server-backend tests:
 * started the way heldout's own llama-server engine starts one.
 */
export function llamaToolsBin(): string {
  return execFileSync("bash", [join(ROOT, "bench/build-llama-tools.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 900_000 }).trim();
}

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

export async function startLlamaServer(model: string, alias: string): Promise<RunningServer> {
  llamaToolsBin(); // builds the tools if this machine has none yet
  const server = await startLlamaServerProcess({ modelPath: model, threads: 1, slots: 2, contextSize: 2048, flashAttention: false, gpuLayers: 0, alias });
  return {
    url: server.url,
    stop: async () => {
      server.stop();
      // Give the port a moment to close, as a killed server's would.
      await new Promise((r) => setTimeout(r, 50));
    },
  };
}
