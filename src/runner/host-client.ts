import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ContextSettings, LoadedModelInfo, LoadTarget } from "../backends/backend.js";
import type { FromHost, HostRequest, HostResult, LoglikItem, LoglikResult, MemoryPeak, ToHost } from "./host-protocol.js";

/** The orchestrator's handle on one engine host process (see engine-host.ts). */

export class HostDied extends Error {
  constructor(
    readonly exit: string,
    readonly stderrTail: string,
  ) {
    super(`engine host died (${exit})${stderrTail ? `; its last stderr lines:\n${stderrTail}` : ""}`);
  }
}

export class ModelLoadFailed extends Error {}

export interface BatchDone {
  wallMs: number;
  context: Record<string, unknown>;
  aborted: boolean;
  memory: MemoryPeak;
}

type Pending = { resolve: (m: FromHost) => void; reject: (e: Error) => void; accept: (m: FromHost) => boolean };

export class EngineHost {
  private stderr = "";
  private pending?: Pending;
  private death?: HostDied;
  private onResults?: (items: HostResult[]) => void;
  private batch = 0;

  private constructor(private readonly child: ChildProcess) {
    child.stderr?.on("data", (d: Buffer) => {
      // Keep the tail only: it is what explains a crash.
      this.stderr = (this.stderr + d.toString()).slice(-8000);
      if (process.env.HELDOUT_ENGINE_LOG) process.stderr.write(d);
    });
    child.on("message", (m: FromHost) => this.receive(m));
    child.on("close", (code, signal) => {
      this.death = new HostDied(signal ? `signal ${signal}` : `exit code ${code}`, this.stderrTail());
      this.pending?.reject(this.death);
      this.pending = undefined;
    });
    child.on("error", (error) => {
      this.pending?.reject(error);
      this.pending = undefined;
    });
  }

  static async start(env: Record<string, string> = {}): Promise<EngineHost> {
    const script = fileURLToPath(new URL("./engine-host.js", import.meta.url));
    const child = fork(script, [], { stdio: ["ignore", "ignore", "pipe", "ipc"], env: { ...process.env, ...env }, serialization: "json" });
    const host = new EngineHost(child);
    await host.wait((m) => m.type === "ready");
    return host;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  stderrTail(lines = 12): string {
    return this.stderr.trim().split("\n").slice(-lines).join("\n");
  }

  async load(target: LoadTarget): Promise<{ info: LoadedModelInfo; memory: MemoryPeak }> {
    const reply = this.wait((m) => m.type === "loaded" || m.type === "loadFailed");
    this.post({ type: "load", target });
    const m = await reply;
    if (m.type === "loadFailed") throw new ModelLoadFailed(m.error);
    if (m.type !== "loaded") throw new Error(`unexpected reply ${m.type}`);
    return { info: m.info, memory: m.memory };
  }

  /** Generates a batch; `onResults` is called with finished requests as they arrive. */
  async generate(requests: HostRequest[], context: ContextSettings, onResults: (items: HostResult[]) => void): Promise<BatchDone> {
    const batch = ++this.batch;
    this.onResults = onResults;
    const reply = this.wait((m) => m.type === "batchDone" && m.batch === batch);
    this.post({ type: "generate", batch, requests, context });
    const m = await reply;
    this.onResults = undefined;
    if (m.type !== "batchDone") throw new Error(`unexpected reply ${m.type}`);
    return { wallMs: m.wallMs, context: m.context, aborted: m.aborted, memory: m.memory };
  }

  /** Embedding vectors of `texts` from the loaded model. */
  async embed(texts: string[]): Promise<number[][]> {
    const batch = ++this.batch;
    const reply = this.wait((m) => m.type === "embedded" && m.batch === batch);
    this.post({ type: "embed", batch, texts });
    const m = await reply;
    if (m.type !== "embedded") throw new Error(`unexpected reply ${m.type}`);
    if (m.error !== null || m.vectors === null) throw new Error(m.error ?? "no embeddings");
    return m.vectors;
  }

  /** Each item's continuation log-likelihoods from the loaded model (an item that fails carries its error). */
  async loglik(items: LoglikItem[]): Promise<LoglikResult[]> {
    const batch = ++this.batch;
    const reply = this.wait((m) => m.type === "logliks" && m.batch === batch);
    this.post({ type: "loglik", batch, items });
    const m = await reply;
    if (m.type !== "logliks") throw new Error(`unexpected reply ${m.type}`);
    return m.results;
  }

  abort(): void {
    this.post({ type: "abort" });
  }

  async close(): Promise<void> {
    if (this.death) return;
    const closed = new Promise<void>((done) => this.child.once("close", () => done()));
    this.post({ type: "exit" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await closed;
    clearTimeout(timer);
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }

  private post(message: ToHost): void {
    if (this.child.connected) this.child.send(message);
  }

  private receive(m: FromHost): void {
    if (m.type === "results") {
      this.onResults?.(m.items);
      return;
    }
    if (this.pending?.accept(m)) {
      const p = this.pending;
      this.pending = undefined;
      p.resolve(m);
    }
  }

  private wait(accept: (m: FromHost) => boolean): Promise<FromHost> {
    if (this.death) return Promise.reject(this.death);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, accept };
    });
  }
}
