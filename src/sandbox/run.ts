/**
 * Runs untrusted code with its tests in a sandbox: one child process tree per execution, in a fresh
 * temp directory that is deleted afterwards. What confines it, each used where this machine allows
 * (detected once per process, and listed in every result's `isolation`):
 *
 * - a network namespace (`unshare --net`): no interface, not even loopback, is up;
 * - a PID namespace (`unshare --pid --fork --mount-proc`) whose first process is a small shell:
 *   when it ends, or is killed at a limit, the kernel kills every process in the namespace,
 *   detached and `setsid` ones included;
 * - a fresh unprivileged uid/gid per execution (`setpriv`, when heldout runs as root), no
 *   supplementary groups, no capabilities, no_new_privs: the code can write only its own temp
 *   directory (which that uid owns, mode 0700) and world-writable places, never the results
 *   directory or the suite;
 * - rlimits (`prlimit`): address space, CPU seconds, file size, processes, open files, no core files;
 * - a wall-clock timer that SIGKILLs the whole process group, and a cap on stdout + stderr bytes;
 * - a clean environment (PATH, HOME and TMPDIR pointing at the temp directory, a UTF-8 locale):
 *   nothing of heldout's environment (API keys) is passed on.
 *
 * The verdict comes from a result file the harness writes in the temp directory, never from stdout.
 */
import { spawn, spawnSync } from "node:child_process";
import { constants as osConstants, tmpdir } from "node:os";
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, readdirSync, readFileSync, rmSync, statSync, lstatSync, chownSync, chmodSync, writeFileSync, mkdtempSync, realpathSync, accessSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { randomInt } from "node:crypto";
import { normalizeTests, type Language, type TestCase } from "./extract.js";
import { JAVASCRIPT_HARNESS, PYTHON_HARNESS } from "./harness.js";

export interface SandboxOptions {
  language: Language;
  code: string;
  /** Strings (named by a leading comment or their first line) or `{name, code}`. */
  tests: readonly (string | TestCase)[];
  /** Wall clock for the whole execution, start-up included. Default 10,000. */
  timeoutMs?: number;
  /** CPU seconds (all threads); the process is killed by SIGXCPU past it. Default: the wall timeout in seconds, rounded up, plus 1. */
  cpuSeconds?: number;
  /** Memory cap in MiB. Default 512. */
  memoryMb?: number;
  /** Cap on stdout + stderr together; past it the execution is killed. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Largest file the code may write. Default 16 MiB. */
  maxFileBytes?: number;
  /** Use namespaces where available (default true); false runs without them (tests of the fallback). */
  namespaces?: boolean;
  /** Run as a fresh unprivileged uid where possible (default true). */
  dropPrivileges?: boolean;
}

export type KilledFor = "timeout" | "memory" | "output";

export interface TestFailure {
  name: string;
  message: string;
}

export interface SandboxResult {
  /** The program's exit status (python or node), null when it ended by a signal. */
  exitCode: number | null;
  signal: string | null;
  /** Killed by the wall-clock timer. */
  timedOut: boolean;
  /** Which limit stopped it: the wall clock or CPU time, the memory cap, the output cap; null for none. */
  killedFor: KilledFor | null;
  testsPassed: number;
  testsFailed: number;
  /** Failed tests in order, each named, with the error (tests that never ran say why). */
  failures: TestFailure[];
  stdoutTail: string;
  stderrTail: string;
  durationMs: number;
  /** "isolated", or "not isolated (why)". */
  network: string;
  /** What confined this execution, one line each. */
  isolation: string[];
}

export const SANDBOX_DEFAULTS = { timeoutMs: 10_000, memoryMb: 512, maxOutputBytes: 1 << 20, maxFileBytes: 16 << 20 } as const;

const TAIL_BYTES = 2000;
const MAX_RESULT_BYTES = 4 << 20;
const MAX_MESSAGE = 300;
/** node reserves about 0.7 GiB of address space before running anything; its cap adds this much. */
const NODE_ADDRESS_HEADROOM_MB = 1024;
const SAFE_PATH = "/usr/local/bin:/usr/bin:/bin";
/** The first process inside: runs the program as its child, so the program is never PID 1 (PID 1 ignores SIGXCPU). */
const INIT = '"$@"; exit $?';

/* ---------- what this machine allows, probed once ---------- */

export interface Capabilities {
  netNamespace: boolean;
  pidNamespace: boolean;
  /** The `unshare` arguments that work here (with `--user --map-root-user` when not root); null for none. */
  unshareArgs: string[] | null;
  /** Why the PID namespace (or every namespace) is not used, when it is not. */
  namespaceWhy: string | null;
  setpriv: boolean;
  root: boolean;
  prlimit: boolean;
}

let capabilities: Capabilities | undefined;

function works(cmd: string, args: string[]): { ok: boolean; why: string } {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], timeout: 5000, encoding: "utf8" });
  if (r.error) return { ok: false, why: `${cmd}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}` };
  if (r.status !== 0) return { ok: false, why: `${cmd}: ${(r.stderr ?? "").trim().split("\n")[0] || `exit ${String(r.status ?? r.signal)}`}` };
  return { ok: true, why: "" };
}

export function detectCapabilities(): Capabilities {
  if (capabilities) return capabilities;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  // Not root: an unprivileged user namespace (where the kernel allows one) makes the others possible.
  const prefixes = root ? [[]] : [["--user", "--map-root-user"]];
  let unshareArgs: string[] | null = null;
  let pid = false;
  let why: string | null = null;
  for (const prefix of prefixes) {
    const full = [...prefix, "--net", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"];
    const tried = works("unshare", [...full, "--", "/bin/true"]);
    if (tried.ok) {
      unshareArgs = full;
      pid = true;
      break;
    }
    why ??= tried.why;
    const net = [...prefix, "--net"];
    if (works("unshare", [...net, "--", "/bin/true"]).ok) {
      unshareArgs = net;
      break;
    }
  }
  capabilities = {
    netNamespace: unshareArgs !== null,
    pidNamespace: pid,
    unshareArgs,
    namespaceWhy: pid ? null : why,
    setpriv: works("setpriv", ["--version"]).ok,
    root,
    prlimit: works("prlimit", ["--version"]).ok,
  };
  return capabilities;
}

/* ---------- interpreters ---------- */

/** Whether a user with no relation to the file (other) can run it: o+x on every directory above and on the file. */
function runnableByOthers(file: string): boolean {
  try {
    const real = realpathSync(file);
    if ((statSync(real).mode & 0o005) !== 0o005) return false;
    for (let d = dirname(real); ; d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) return false;
      if (d === dirname(d)) return true;
    }
  } catch {
    return false;
  }
}

function onPath(name: string): string[] {
  return (process.env.PATH ?? SAFE_PATH).split(delimiter).filter((d) => d !== "").map((d) => join(d, name));
}

function executable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function pythonExecutable(launcher: string): string | null {
  const r = spawnSync(launcher, ["-c", "import sys; print(sys.executable)"], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "ignore"] });
  const exe = r.status === 0 ? r.stdout.trim() : "";
  return exe !== "" && executable(exe) ? exe : null;
}

const interpreters = new Map<string, string | null>();

/** The interpreter for a language; with a dropped uid, the first one that uid can run (a pyenv shim under /root cannot). */
export function interpreterFor(language: Language, forOthers: boolean): string | null {
  const key = `${language}:${forOthers}`;
  const known = interpreters.get(key);
  if (known !== undefined) return known;
  const env = language === "python" ? process.env.HELDOUT_PYTHON : process.env.HELDOUT_NODE;
  const candidates = language === "python"
    ? [env, ...onPath("python3"), "/usr/bin/python3", "/usr/local/bin/python3"]
    : [env, process.execPath, ...onPath("node"), "/usr/bin/node", "/usr/local/bin/node"];
  let found: string | null = null;
  for (const c of candidates) {
    if (typeof c !== "string" || c === "" || !executable(c)) continue;
    // A launcher (a pyenv shim) is replaced by the interpreter it starts: faster, and the one to check.
    const real = language === "python" ? (pythonExecutable(c) ?? c) : c;
    if (!forOthers || runnableByOthers(real)) {
      found = real;
      break;
    }
  }
  interpreters.set(key, found);
  return found;
}

/* ---------- one execution ---------- */

const usedUids = new Set<number>();

function freshUid(): number {
  for (;;) {
    const uid = 1_000_000_000 + randomInt(100_000_000);
    if (!usedUids.has(uid)) {
      usedUids.add(uid);
      return uid;
    }
  }
}

/** The last bytes of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  total = 0;
  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - (this.chunks[0]?.length ?? 0) >= TAIL_BYTES) this.size -= this.chunks.shift()?.length ?? 0;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString("utf8");
  }
}

function signalName(n: number): string | null {
  for (const [name, value] of Object.entries(osConstants.signals)) if (value === n) return name;
  return null;
}

/** PIDs whose parent is `pid` (/proc/PID/task/PID/children, else a scan of /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((s) => s !== "").map(Number);
  } catch {
    const out: number[] = [];
    try {
      for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
          const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
          if (ppid === pid) out.push(Number(entry));
        } catch {
          /* gone */
        }
      }
    } catch {
      /* no /proc */
    }
    return out;
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}

/** Reads the harness's result file without following a link the code may have put in its place. */
function readResultFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch {
    return "";
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1) return "";
    const buf = Buffer.alloc(Math.min(st.size, MAX_RESULT_BYTES));
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

interface HarnessLine {
  event?: string;
  i?: number;
  ok?: boolean;
  type?: string;
  message?: string;
  memory?: boolean;
}

function parseLines(text: string): HarnessLine[] {
  const out: HarnessLine[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === "object" && v !== null && !Array.isArray(v)) out.push(v as HarnessLine);
    } catch {
      /* a torn or forged line: ignored */
    }
  }
  return out;
}

const short = (s: string): string => (s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE)}…` : s);
const errorText = (l: HarnessLine): string => short(l.message ? `${l.type ?? "Error"}: ${l.message}` : (l.type ?? "Error"));

const MEMORY_STDERR = /MemoryError|heap out of memory|Reached heap limit|Array buffer allocation failed|std::bad_alloc|Cannot allocate memory|Failed to reserve virtual memory|Fatal process OOM/;

/** Removes what the uid left in the shared world-writable directories (top-level entries only). */
function sweepSharedDirs(uid: number): void {
  for (const dir of new Set([tmpdir(), "/tmp", "/var/tmp", "/dev/shm"])) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = join(dir, e);
      try {
        if (lstatSync(p).uid === uid) rmSync(p, { recursive: true, force: true });
      } catch {
        /* raced or not ours */
      }
    }
  }
}

export async function runSandboxed(options: SandboxOptions): Promise<SandboxResult> {
  const caps = detectCapabilities();
  const timeoutMs = Math.max(1, Math.round(options.timeoutMs ?? SANDBOX_DEFAULTS.timeoutMs));
  const cpuSeconds = Math.max(1, Math.ceil(options.cpuSeconds ?? timeoutMs / 1000 + 1));
  const memoryMb = Math.max(16, Math.round(options.memoryMb ?? SANDBOX_DEFAULTS.memoryMb));
  const maxOutputBytes = Math.max(1, Math.round(options.maxOutputBytes ?? SANDBOX_DEFAULTS.maxOutputBytes));
  const maxFileBytes = Math.max(4096, Math.round(options.maxFileBytes ?? SANDBOX_DEFAULTS.maxFileBytes));
  const tests = normalizeTests(options.tests, options.language);
  const useNs = options.namespaces !== false;
  const dropUid = options.dropPrivileges !== false && caps.root && caps.setpriv;
  const uid = dropUid ? freshUid() : null;
  const isolation: string[] = [];

  const interpreter = interpreterFor(options.language, dropUid);
  const notRun = (why: string): SandboxResult => ({
    exitCode: null, signal: null, timedOut: false, killedFor: null, testsPassed: 0, testsFailed: tests.length,
    failures: tests.map((t) => ({ name: t.name, message: why })), stdoutTail: "", stderrTail: "", durationMs: 0,
    network: "not isolated (not run)", isolation: [],
  });
  if (interpreter === null) return notRun(`not run: no ${options.language} interpreter found${dropUid ? " that an unprivileged user can run" : ""}`);

  const dir = mkdtempSync(join(tmpdir(), "heldout-sbx-"));
  try {
    const py = options.language === "python";
    const solutionFile = py ? "solution.py" : "solution.js";
    const harnessFile = py ? "harness.py" : "harness.cjs";
    writeFileSync(join(dir, solutionFile), options.code, { mode: 0o644 });
    writeFileSync(join(dir, harnessFile), py ? PYTHON_HARNESS : JAVASCRIPT_HARNESS, { mode: 0o644 });
    writeFileSync(join(dir, "tests.json"), JSON.stringify(tests), { mode: 0o644 });
    if (uid !== null) {
      chownSync(dir, uid, uid);
      chmodSync(dir, 0o700);
    }

    const argv: string[] = [];
    let network: string;
    if (useNs && caps.unshareArgs !== null) {
      argv.push("unshare", ...caps.unshareArgs, "--");
      network = "isolated";
      isolation.push("network namespace: no interfaces up (unshare --net)");
      if (caps.pidNamespace) isolation.push("PID namespace: every process it starts ends with it, detached ones included (unshare --pid)");
      else isolation.push(`no PID namespace (${caps.namespaceWhy ?? "unavailable"}): process group killed; a detached process that left the group may outlive the run`);
      if (caps.unshareArgs.includes("--user")) isolation.push("user namespace (not root): root inside maps to heldout's own user");
    } else {
      network = `not isolated (${useNs ? (caps.namespaceWhy ?? "unshare unavailable") : "namespaces turned off"})`;
      isolation.push(`no namespaces (${useNs ? (caps.namespaceWhy ?? "unavailable") : "turned off"}): network open; process group killed; a detached process that left the group may outlive the run`);
    }
    const addressMb = py ? memoryMb : memoryMb + NODE_ADDRESS_HEADROOM_MB;
    if (caps.prlimit) {
      // RLIMIT_NPROC counts every process of the uid, so it only means "this execution's" for a fresh uid.
      const nproc = uid !== null ? ["--nproc=64"] : [];
      argv.push("prlimit", `--as=${addressMb * 1024 * 1024}`, `--cpu=${cpuSeconds}:${cpuSeconds + 1}`, `--fsize=${maxFileBytes}`, ...nproc, "--nofile=256", "--core=0", "--");
      isolation.push(`rlimits: address space ${addressMb} MiB, CPU ${cpuSeconds} s, file size ${maxFileBytes} bytes, ${uid !== null ? "64 processes, " : ""}256 files, no core`);
    } else {
      isolation.push("no rlimits (prlimit not found): memory only capped for javascript's heap");
    }
    if (uid !== null) {
      argv.push("setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", "--");
      isolation.push(`uid/gid ${uid}: unprivileged, no groups or capabilities, no_new_privs; writes only its temp directory and world-writable places`);
    } else {
      isolation.push(`runs as heldout's own user (${!caps.root ? "not root" : !caps.setpriv ? "setpriv not found" : "turned off"}): can write wherever that user can`);
    }
    const program = py ? [interpreter, "-I", "-B", harnessFile] : [interpreter, `--max-old-space-size=${memoryMb}`, harnessFile];
    argv.push("/bin/sh", "-c", INIT, "sh", ...program, solutionFile, "tests.json", "result.jsonl");
    isolation.push(`wall clock ${timeoutMs} ms, output ${maxOutputBytes} bytes; clean environment, cwd, HOME and TMPDIR in a fresh temp directory`);

    const env: NodeJS.ProcessEnv = { PATH: SAFE_PATH, HOME: dir, TMPDIR: dir, LANG: "C.UTF-8", LC_ALL: "C.UTF-8", PYTHONIOENCODING: "utf-8" };
    const started = performance.now();
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const stdout = new Tail();
    const stderr = new Tail();
    const stop: { by: KilledFor | null } = { by: null };
    const killAll = (why: KilledFor): void => {
      if (stop.by === null) stop.by = why;
      const pid = child.pid;
      if (pid === undefined) return;
      // The namespace's first process first (so even one that left the group takes the namespace
      // down), then the group.
      for (const c of childrenOf(pid)) kill(c);
      kill(-pid);
    };
    const onData = (tail: Tail) => (chunk: Buffer): void => {
      tail.push(chunk);
      if (stdout.total + stderr.total > maxOutputBytes) killAll("output");
    };
    child.stdout.on("data", onData(stdout));
    child.stderr.on("data", onData(stderr));
    const timer = setTimeout(() => killAll("timeout"), timeoutMs);

    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once("error", (error) => resolve({ code: null, signal: null, error }));
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    clearTimeout(timer);
    const killedBy = stop.by;
    const durationMs = performance.now() - started;
    if (child.pid !== undefined) kill(-child.pid);
    // Streams close once every holder of the pipes is gone; do not wait on a straggler.
    await new Promise<void>((resolve) => {
      if (child.stdout.closed && child.stderr.closed) return resolve();
      const t = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve();
      }, 200);
      child.once("close", () => {
        clearTimeout(t);
        resolve();
      });
    });
    if (exit.error) {
      const r = notRun(`not run: ${exit.error.message}`);
      return { ...r, network, isolation };
    }

    // The shell in front of the program exits with its status, or 128 + the signal that ended it.
    let exitCode: number | null = exit.code;
    let signal: string | null = exit.signal;
    if (exitCode !== null && exitCode > 128 && exitCode < 128 + 65 && !killedBy) {
      signal = signalName(exitCode - 128);
      if (signal !== null) exitCode = null;
    }

    const lines = parseLines(readResultFile(join(dir, "result.jsonl")));
    const loadError = lines.find((l) => l.event === "load-error");
    const loaded = lines.some((l) => l.event === "loaded");
    const byIndex = new Map<number, HarnessLine>();
    for (const l of lines) if (typeof l.i === "number" && !byIndex.has(l.i)) byIndex.set(l.i, l);
    const stderrText = stderr.text();
    // A MemoryError / RangeError the harness caught, or a crash whose last words are an allocation failure.
    const memory = lines.some((l) => l.memory === true) || (lines.every((l) => l.event !== "done") && MEMORY_STDERR.test(stderrText));
    let killedFor: KilledFor | null = killedBy;
    if (killedFor === null && signal === "SIGXCPU") killedFor = "timeout";
    if (killedFor === null && memory) killedFor = "memory";
    // SIGKILL that heldout did not send: the CPU limit's hard stop.
    if (killedFor === null && signal === "SIGKILL") killedFor = "timeout";
    const stopWord = killedFor === "timeout" ? (killedBy === "timeout" ? `killed at the ${timeoutMs} ms timeout` : `killed at the CPU limit (${cpuSeconds} s)`)
      : killedFor === "output" ? `killed: output over ${maxOutputBytes} bytes`
      : killedFor === "memory" ? `stopped by the ${memoryMb} MiB memory cap`
      : signal ? `ended by ${signal}` : `exited with ${String(exitCode)}`;

    const failures: TestFailure[] = [];
    let passed = 0;
    let firstMissing = true;
    tests.forEach((t, i) => {
      const r = byIndex.get(i);
      if (r?.ok === true) {
        passed++;
        return;
      }
      if (r) {
        failures.push({ name: t.name, message: errorText(r) });
        return;
      }
      let message: string;
      if (loadError) message = `not run: the solution failed to load: ${errorText(loadError)}`;
      else if (!loaded) message = `not run: the solution's top level did not finish: ${stopWord}`;
      else if (firstMissing) message = `did not finish: ${stopWord}`;
      else message = `not run: ${stopWord}`;
      firstMissing = false;
      failures.push({ name: t.name, message: short(message) });
    });

    return {
      exitCode, signal, timedOut: killedBy === "timeout", killedFor,
      testsPassed: passed, testsFailed: tests.length - passed, failures,
      stdoutTail: stdout.text(), stderrTail: stderrText,
      durationMs: Math.round(durationMs), network, isolation,
    };
  } finally {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      /* a straggler (no PID namespace) still writing; the OS's temp cleaning gets it */
    }
    if (uid !== null) {
      sweepSharedDirs(uid);
      usedUids.delete(uid);
    }
  }
}
