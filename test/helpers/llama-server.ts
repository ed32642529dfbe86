import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT } from "./cli.js";

/**
 * A real llama-server (llama.cpp's, built from the source node-llama-cpp ships, by
 * bench/build-llama-tools.sh, cached outside git) on 127.0.0.1, for the server-backend tests.
 */
export function llamaToolsBin(): string {
  return execFileSync("bash", [join(ROOT, "bench/build-llama-tools.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 900_000 }).trim();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startLlamaServer(model: string, alias: string, extra: string[] = []): Promise<RunningServer> {
  const bin = llamaToolsBin();
  const port = await freePort();
  const child = spawn(join(bin, "llama-server"), ["-m", model, "--host", "127.0.0.1", "--port", String(port), "-a", alias, "-c", "2048", "-np", "2", "-t", "1", "-fa", "off", ...extra], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited (${child.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`llama-server did not become healthy in 60 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    process: child,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGKILL");
      }),
  };
}
