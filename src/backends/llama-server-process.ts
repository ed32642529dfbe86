import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { BUILD_TOOLS_HINT, llamaToolPath } from "./llama-tools.js";

/**
 * One llama.cpp llama-server process on 127.0.0.1 (built from node-llama-cpp's bundled source),
 * started through a small shell watchdog so that it never outlives the process that started it,
 * even after `kill -9`, and in its own process group so stop() ends both.
 */
export interface ServerSettings {
  modelPath: string;
  threads: number;
  slots: number;
  /** Total context, shared by the slots. */
  contextSize: number;
  flashAttention: boolean;
  gpuLayers: number | "auto" | "max";
  batchSize?: number;
  kvCacheType?: string;
  alias: string;
}

export interface LlamaServerProcess {
  url: string;
  args: string[];
  stop(): void;
  /** The server's peak resident memory (VmHWM), on Linux. */
  peakRssBytes(): number | null;
}

export async function startLlamaServerProcess(s: ServerSettings): Promise<LlamaServerProcess> {
  const exe = llamaToolPath("llama-server");
  if (!exe) throw new Error(`llama-server is needed; build it once with: ${BUILD_TOOLS_HINT}`);
  const args = [
    "-m", s.modelPath, "--host", "127.0.0.1", "-a", s.alias,
    "-t", String(s.threads), "-tb", String(s.threads),
    "-np", String(s.slots), "-c", String(s.contextSize),
    "-fa", s.flashAttention ? "on" : "off",
    "-ngl", s.gpuLayers === "max" ? "999" : s.gpuLayers === "auto" ? "0" : String(s.gpuLayers),
    ...(s.batchSize ? ["-b", String(s.batchSize)] : []),
    ...(s.kvCacheType ? ["-ctk", s.kvCacheType, "-ctv", s.kvCacheType] : []),
  ];
  const port = await freePort();
  const watchdog = `"$0" "$@" & s=$!; while kill -0 ${process.pid} 2>/dev/null && kill -0 $s 2>/dev/null; do sleep 0.5; done; kill -9 $s 2>/dev/null; wait $s`;
  const child: ChildProcess = spawn("sh", ["-c", watchdog, exe, ...args, "--port", String(port)], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => {
    if (child.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited (${child.exitCode}): ${log.trim().split("\n").slice(-3).join(" | ")}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      stop();
      throw new Error("llama-server did not become ready within 120 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    args,
    stop,
    peakRssBytes() {
      try {
        const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/);
        const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${children[0]}/status`, "utf8"))?.[1];
        return kib ? Number(kib) * 1024 : null;
      } catch {
        return null;
      }
    },
  };
}

/** A port nothing listens on now (the OS picks it), for a server of ours on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
