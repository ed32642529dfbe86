import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { randomInt } from "node:crypto";
import { extractCode, normalizeTests, parseTests } from "../src/sandbox/extract.js";
import { detectCapabilities, runSandboxed, type SandboxResult } from "../src/sandbox/run.js";
import { ExecutionPool, defaultConcurrency } from "../src/sandbox/pool.js";
import { scoreOutput, scoreOutputAsync, validateScorer } from "../src/scorers/index.js";
import scoreBatch from "../src/runner/score-worker.js";

const caps = detectCapabilities();
const T = 15_000; // per-test bound; the timeouts inside are 1.5 s

/** A unique `sleep` argument, so pgrep finds exactly the processes this test started. */
const marker = (): string => `29.${randomInt(100_000, 999_999)}`;
const alive = (mark: string): string[] => {
  const r = spawnSync("pgrep", ["-af", `sleep ${mark}`], { encoding: "utf8" });
  return r.stdout.split("\n").filter((l) => l.trim() !== "");
};

const PY_ADD = "def add(a, b):\n    return a + b\n";
const PY_TESTS = ["assert add(1, 2) == 3", "# negatives\nassert add(-1, 1) == 0", "add(2, 2) == 4"];

describe("extractCode", () => {
  it("takes the first block tagged with the language", () => {
    const out = "Here:\n```js\nconsole.log(1)\n```\nand\n```python\ndef f():\n    return 1\n```\n```py\nx = 2\n```";
    expect(extractCode(out, "python")).toEqual({ code: "def f():\n    return 1", from: "tagged block" });
    expect(extractCode(out, "javascript")).toEqual({ code: "console.log(1)", from: "tagged block" });
    expect(extractCode("~~~ Python\nx = 1\n~~~", "python")).toEqual({ code: "x = 1", from: "tagged block" });
  });

  it("else the first block, else the whole output; an open fence runs to the end", () => {
    expect(extractCode("a\n```\nx = 1\n```\n```ruby\ny\n```", "python")).toEqual({ code: "x = 1", from: "first block" });
    expect(extractCode("def f(): return 1", "python")).toEqual({ code: "def f(): return 1", from: "whole output" });
    expect(extractCode("```python\ndef f():\n    return 1", "python").code).toBe("def f():\n    return 1");
    // A longer fence holds a shorter one.
    expect(extractCode("````python\ns = '```'\n```\n````", "python").code).toBe("s = '```'\n```");
  });

  it("names tests by their leading comment, else their number and first line", () => {
    expect(normalizeTests(["assert f() == 1", "# handles empty\nassert f([]) == 0", { name: "big", code: "assert f(10**6)" }], "python").map((t) => t.name)).toEqual(["#1 assert f() == 1", "handles empty", "big"]);
    expect(normalizeTests(["// zero\nassert.equal(f(0), 0)"], "javascript")[0]?.name).toBe("zero");
    expect(parseTests([])).toBeUndefined();
    expect(parseTests(["x", { name: "n" }])).toBeUndefined();
    expect(parseTests(["x", { name: "n", code: "y" }])).toEqual(["x", { name: "n", code: "y" }]);
  });
});

describe("code scorer spec", () => {
  const fields = (spec: Record<string, unknown>, hasExpected: boolean, expected?: unknown): string[] =>
    validateScorer({ type: "code", ...spec } as never, hasExpected, expected as never).map((p) => p.field);

  it("needs a language and tests (its own, or the task's expected)", () => {
    expect(fields({ language: "python", tests: ["assert True"] }, false)).toEqual([]);
    expect(fields({ language: "javascript" }, true, ["assert.ok(true)", { name: "n", code: "1" }])).toEqual([]);
    expect(fields({ language: "ruby", tests: ["x"] }, false)).toEqual(["language"]);
    expect(fields({ language: "python" }, false)).toEqual(["expected"]);
    expect(fields({ language: "python" }, true, "assert True")).toEqual(["expected"]);
    expect(fields({ language: "python", tests: [] }, false)).toEqual(["tests"]);
    expect(fields({ language: "python", tests: ["x"], timeoutMs: 5, memoryMb: 1 << 20 }, false).sort()).toEqual(["memoryMb", "timeoutMs"]);
    expect(fields({ language: "python", tests: ["x"], network: true }, false)).toEqual(["network"]);
  });

  it("the synchronous path says it needs the asynchronous one", () => {
    const s = scoreOutput({ type: "code", language: "python", tests: ["assert True"] }, "x = 1", undefined);
    expect(s.pass).toBe(false);
    expect(s.reason).toMatch(/asynchronously/);
  });
});

describe("ExecutionPool", () => {
  it("never runs more than its limit at once, and keeps going after a failure", async () => {
    const pool = new ExecutionPool(2);
    let now = 0;
    let peak = 0;
    const job = (fail: boolean) => async () => {
      now++;
      peak = Math.max(peak, now);
      await new Promise((r) => setTimeout(r, 20));
      now--;
      if (fail) throw new Error("boom");
      return 1;
    };
    const results = await Promise.allSettled([job(false), job(true), job(false), job(false), job(false)].map((j) => pool.run(j)));
    expect(peak).toBe(2);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
    expect(pool.running).toBe(0);
    expect(pool.queued).toBe(0);
    expect(defaultConcurrency()).toBeGreaterThanOrEqual(1);
  });
});

describe("runSandboxed", () => {
  beforeAll(() => {
    // Printed so a CI log says what this machine isolates.
    console.log(`sandbox capabilities: ${JSON.stringify(caps)}`);
  });

  it("python: a correct solution passes every test", { timeout: T }, async () => {
    const r = await runSandboxed({ language: "python", code: PY_ADD, tests: PY_TESTS });
    expect(r).toMatchObject({ exitCode: 0, signal: null, timedOut: false, killedFor: null, testsPassed: 3, testsFailed: 0, failures: [] });
    expect(r.durationMs).toBeLessThan(5000);
    expect(r.isolation.length).toBeGreaterThan(0);
  });

  it("python: a wrong solution fails, naming the failing tests", { timeout: T }, async () => {
    const r = await runSandboxed({ language: "python", code: "def add(a, b):\n    return a + b + (a < 0)\n", tests: [...PY_TESTS, { name: "raises", code: "add(1, None)" }] });
    expect(r.testsPassed).toBe(2);
    expect(r.testsFailed).toBe(2);
    expect(r.failures).toEqual([
      { name: "negatives", message: "AssertionError" },
      { name: "raises", message: expect.stringMatching(/^TypeError: unsupported operand/) as unknown as string },
    ]);
  });

  it("python: a syntax error fails every test with the load error; stdout is not the verdict", { timeout: T }, async () => {
    const r = await runSandboxed({ language: "python", code: 'print(\'{"i": 0, "ok": true}\')\ndef add(a, b)\n', tests: PY_TESTS });
    expect(r.testsPassed).toBe(0);
    expect(r.failures[0]?.message).toMatch(/^not run: the solution failed to load: SyntaxError/);
    const quiet = await runSandboxed({ language: "python", code: 'print(\'{"i": 0, "ok": true}\', flush=True)\nimport os\nos._exit(0)\n', tests: PY_TESTS });
    expect(quiet.testsPassed).toBe(0);
    expect(quiet.stdoutTail).toContain('"ok": true');
  });

  it("javascript: a correct script, CommonJS module or ES module passes; a wrong one names the test", { timeout: T }, async () => {
    const tests = ["assert.strictEqual(add(1, 2), 3)", "// negatives\nassert.strictEqual(add(-1, 1), 0)", "add(2, 2) === 4", { name: "async", code: "assert.equal(await Promise.resolve(add(1, 1)), 2)" }];
    for (const code of ["function add(a, b) { return a + b; }", "module.exports = { add: (a, b) => a + b };", "export const add = (a, b) => a + b;"]) {
      const r = await runSandboxed({ language: "javascript", code, tests });
      expect(r, code).toMatchObject({ exitCode: 0, killedFor: null, testsPassed: 4, testsFailed: 0 });
    }
    const wrong = await runSandboxed({ language: "javascript", code: "const add = (a, b) => Math.abs(a) + b;", tests: [...tests, "add(1, 1) === 3"] });
    expect(wrong.testsPassed).toBe(3);
    expect(wrong.failures.map((f) => f.name)).toEqual(["negatives", "#5 add(1, 1) === 3"]);
    expect(wrong.failures[0]?.message).toMatch(/^AssertionError: Expected values to be strictly equal/);
    expect(wrong.failures[1]?.message).toBe("AssertionError: evaluated to false");
  });

  it.each(["python", "javascript"] as const)("%s: an infinite loop is killed at the wall-clock timeout", { timeout: T }, async (language) => {
    const code = language === "python" ? "def spin():\n    while True:\n        pass\n" : "function spin() { for (;;) {} }";
    const tests = language === "python" ? ["assert True", "spin()", "assert True"] : ["assert.ok(true)", "spin()", "assert.ok(true)"];
    const r = await runSandboxed({ language, code, tests, timeoutMs: 1500, cpuSeconds: 10 });
    expect(r).toMatchObject({ timedOut: true, killedFor: "timeout", signal: "SIGKILL", exitCode: null, testsPassed: 1, testsFailed: 2 });
    expect(r.failures.map((f) => f.message)).toEqual(["did not finish: killed at the 1500 ms timeout", "not run: killed at the 1500 ms timeout"]);
    expect(r.durationMs).toBeGreaterThanOrEqual(1400);
    expect(r.durationMs).toBeLessThan(4000);
  });

  it.skipIf(!caps.prlimit)("python: the CPU-time limit stops a busy loop before a longer wall clock", { timeout: T }, async () => {
    const r = await runSandboxed({ language: "python", code: "while True:\n    pass\n", tests: ["assert True"], timeoutMs: 10_000, cpuSeconds: 1 });
    expect(r).toMatchObject({ timedOut: false, killedFor: "timeout", signal: "SIGXCPU", testsPassed: 0 });
    expect(r.durationMs).toBeLessThan(4000);
  });

  it.skipIf(!caps.prlimit)("python: memory bombs are stopped by the cap", { timeout: T }, async () => {
    const big = await runSandboxed({ language: "python", code: "x = bytearray(10**10)\n", tests: ["assert True"], memoryMb: 256 });
    expect(big).toMatchObject({ killedFor: "memory", testsPassed: 0 });
    expect(big.failures[0]?.message).toMatch(/MemoryError/);
    const growing = await runSandboxed({ language: "python", code: "def grow():\n    x = []\n    while True:\n        x.append(' ' * 10**6)\n", tests: ["grow()", "assert True"], memoryMb: 256 });
    expect(growing).toMatchObject({ killedFor: "memory", testsPassed: 1, testsFailed: 1 });
    expect(growing.failures).toEqual([{ name: "#1 grow()", message: "MemoryError" }]);
    expect(growing.durationMs).toBeLessThan(5000);
  });

  it("javascript: memory bombs are stopped by the cap (heap and buffers)", { timeout: T }, async () => {
    const heap = await runSandboxed({ language: "javascript", code: "function grow() { const a = []; for (;;) a.push({ x: Math.random() }); }", tests: ["grow()"], memoryMb: 64 });
    expect(heap).toMatchObject({ killedFor: "memory", testsPassed: 0, timedOut: false });
    expect(heap.stderrTail).toMatch(/heap out of memory/);
    if (caps.prlimit) {
      const buffers = await runSandboxed({ language: "javascript", code: "const a = []; for (;;) a.push(Buffer.alloc(1e6, 1));", tests: ["assert.ok(true)"], memoryMb: 128 });
      expect(buffers).toMatchObject({ killedFor: "memory", testsPassed: 0, timedOut: false });
    }
  });

  it("python: output past the cap kills the run; tails are kept", { timeout: T }, async () => {
    const r = await runSandboxed({ language: "python", code: "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n    sys.stderr.write('e')\n", tests: ["assert True"], maxOutputBytes: 200_000 });
    expect(r).toMatchObject({ killedFor: "output", timedOut: false, testsPassed: 0 });
    expect(r.stdoutTail).toMatch(/^y{100,}$/);
    expect(r.stdoutTail.length).toBeLessThanOrEqual(2000);
  });

  describe("network", () => {
    let server: Server;
    let port = 0;
    let connections = 0;
    beforeAll(async () => {
      server = createServer((s) => {
        connections++;
        s.end();
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    const pyProbe = (p: number): string =>
      `import socket\ndef probe(host="127.0.0.1", port=${p}):\n    try:\n        socket.create_connection((host, port), timeout=3).close()\n        return "connected"\n    except OSError as e:\n        return "blocked: " + str(e)\n`;
    const jsProbe = (p: number): string =>
      `const net = require("node:net");\nfunction probe() { return new Promise((ok) => { const s = net.connect(${p}, "127.0.0.1", () => { s.end(); ok("connected"); }); s.on("error", (e) => ok("blocked: " + e.code)); setTimeout(() => ok("blocked: timeout"), 3000); }); }`;

    it.skipIf(!caps.netNamespace)("a socket to a listening 127.0.0.1 port, or to the internet, fails inside the namespace", { timeout: T }, async () => {
      const py = await runSandboxed({ language: "python", code: pyProbe(port), tests: ['r = probe()\nassert r.startswith("blocked"), r', 'r = probe("1.1.1.1", 80)\nassert r.startswith("blocked"), r'] });
      expect(py.network).toBe("isolated");
      expect(py.failures).toEqual([]);
      expect(py.testsPassed).toBe(2);
      const js = await runSandboxed({ language: "javascript", code: jsProbe(port), tests: ['const r = await probe(); assert.match(r, /^blocked/, r)'] });
      expect(js.failures).toEqual([]);
      expect(js.testsPassed).toBe(1);
      expect(connections).toBe(0);
      // The control: without the namespace the same code gets through, so the test can fail.
      const open = await runSandboxed({ language: "python", code: pyProbe(port), tests: ['assert probe() == "connected"'], namespaces: false });
      expect(open.network).toBe("not isolated (namespaces turned off)");
      expect(open.testsPassed).toBe(1);
      expect(connections).toBe(1);
    });
    if (!caps.netNamespace) it("socket isolation", () => console.log(`skipped: no network namespace here (${caps.namespaceWhy ?? "unknown"})`));
  });

  describe("writes outside the temp directory", () => {
    let base: string;
    let results: string;
    let suite: string;
    const repoEscape = resolve("results", `sandbox-escape-${randomInt(1e9)}`);
    const snapshot = (dir: string): string =>
      JSON.stringify([statSync(dir).mode, ...readdirSync(dir).sort().map((f) => [f, statSync(join(dir, f)).mode, readFileSync(join(dir, f), "utf8")])]);
    beforeAll(() => {
      base = mkdtempSync(join(tmpdir(), "heldout-sbx-test-"));
      chmodSync(base, 0o755);
      results = join(base, "results");
      suite = join(base, "suite");
      for (const d of [results, suite]) {
        spawnSync("mkdir", ["-m", "755", d]);
      }
      writeFileSync(join(results, "records.jsonl"), '{"pass":false}\n', { mode: 0o644 });
      writeFileSync(join(suite, "tasks.jsonl"), '{"id":"a"}\n', { mode: 0o644 });
    });
    afterAll(() => {
      rmSync(base, { recursive: true, force: true });
      rmSync(repoEscape, { force: true });
    });

    it.skipIf(!caps.root || !caps.setpriv)("python and javascript: the results directory and the suite are unchanged", { timeout: T }, async () => {
      const before = [snapshot(results), snapshot(suite)];
      const tmpName = `heldout-escape-${randomInt(1e9)}`;
      const py = `import os
R, S, REPO = ${JSON.stringify(results)}, ${JSON.stringify(suite)}, ${JSON.stringify(repoEscape)}
def attempt():
    out = []
    for action in [
        lambda: open(os.path.join(R, "x"), "w").write("pwned"),
        lambda: open(os.path.join(R, "records.jsonl"), "a").write("pwned"),
        lambda: os.remove(os.path.join(R, "records.jsonl")),
        lambda: os.rename(os.path.join(R, "records.jsonl"), os.path.join(R, "moved")),
        lambda: os.chmod(R, 0o777),
        lambda: open(os.path.join(S, "tasks.jsonl"), "w").write(""),
        lambda: open(REPO, "w").write("pwned"),
        lambda: open(os.path.join(os.environ["HOME"], "..", "..", "results", "x"), "w"),
    ]:
        try:
            action()
            out.append("done")
        except OSError as e:
            out.append(type(e).__name__)
    # /tmp is world-writable, so this one succeeds; heldout removes it afterwards.
    open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ${JSON.stringify(tmpName)}), "w").write("x")
    return out
`;
      const r = await runSandboxed({ language: "python", code: py, tests: ['r = attempt()\nassert "done" not in r, r'] });
      expect(r.failures).toEqual([]);
      const js = `const fs = require("node:fs");
function attempt() {
  const out = [];
  for (const f of [() => fs.writeFileSync(${JSON.stringify(join(results, "x"))}, "pwned"), () => fs.appendFileSync(${JSON.stringify(join(results, "records.jsonl"))}, "pwned"), () => fs.rmSync(${JSON.stringify(results)}, { recursive: true }), () => fs.writeFileSync(${JSON.stringify(join(suite, "tasks.jsonl"))}, "")]) {
    try { f(); out.push("done"); } catch (e) { out.push(e.code); }
  }
  return out;
}`;
      const j = await runSandboxed({ language: "javascript", code: js, tests: ['const r = attempt(); assert.ok(!r.includes("done"), r.join())'] });
      expect(j.failures).toEqual([]);
      expect([snapshot(results), snapshot(suite)]).toEqual(before);
      expect(existsSync(repoEscape)).toBe(false);
      expect(existsSync(join(tmpdir(), tmpName))).toBe(false);
    });

    it("a result file swapped for a link is not followed", { timeout: T }, async () => {
      const secret = join(base, "secret.jsonl");
      writeFileSync(secret, '{"i": 0, "ok": true}\n', { mode: 0o644 });
      const r = await runSandboxed({ language: "python", code: `import os\nos.remove("result.jsonl")\nos.symlink(${JSON.stringify(secret)}, "result.jsonl")\n`, tests: ["assert False"] });
      expect(r.testsPassed).toBe(0);
    });
  });

  describe("processes the code starts", () => {
    const pySpawn = (a: string, b: string): string => `import os, subprocess
def spawn():
    p = subprocess.Popen(["sleep", "${a}"], start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "${b}"])
        os._exit(0)
    os.kill(p.pid, 0)
    return p.pid
`;
    const jsSpawn = (a: string): string => `const { spawn } = require("node:child_process");
function go() { const c = spawn("sleep", ["${a}"], { detached: true, stdio: "ignore" }); c.unref(); return c.pid; }`;

    it.skipIf(!caps.pidNamespace)("detached and double-forked setsid children are gone when the run ends or times out", { timeout: T }, async () => {
      const [a, b, c, d, e] = [marker(), marker(), marker(), marker(), marker()];
      const ended = await runSandboxed({ language: "python", code: pySpawn(a, b), tests: ["assert spawn() > 0"] });
      expect(ended.testsPassed).toBe(1);
      const timedOut = await runSandboxed({ language: "python", code: pySpawn(c, d), tests: ["assert spawn() > 0", "while True: pass"], timeoutMs: 1500 });
      expect(timedOut).toMatchObject({ killedFor: "timeout", testsPassed: 1 });
      const js = await runSandboxed({ language: "javascript", code: jsSpawn(e), tests: ["assert.ok(go() > 0)"] });
      expect(js.testsPassed).toBe(1);
      expect([a, b, c, d, e].flatMap(alive)).toEqual([]);
    });
    if (!caps.pidNamespace) it("process cleanup", () => console.log(`skipped: no PID namespace here (${caps.namespaceWhy ?? "unknown"})`));
  });

  it("without namespaces (the fallback) a correct solution still passes and the result says what is not isolated", { timeout: T }, async () => {
    const r = await runSandboxed({ language: "python", code: PY_ADD, tests: PY_TESTS, namespaces: false });
    expect(r).toMatchObject({ testsPassed: 3, testsFailed: 0, network: "not isolated (namespaces turned off)" });
    expect(r.isolation.join("\n")).toMatch(/may outlive the run/);
  });

  it("the temp directory is removed afterwards", { timeout: T }, async () => {
    const r: SandboxResult = await runSandboxed({ language: "python", code: "import os\ndef here():\n    return os.getcwd()\n", tests: ["print(here())"] });
    const dir = r.stdoutTail.trim();
    expect(dir).toMatch(/heldout-sbx-/);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(dirname(dir))).toBe(true);
  });
});

describe("scoring a model output with the code scorer", () => {
  const output = "Sure! Here is the function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt adds `a` and `b`.";
  const tests = ["assert add(1, 2) == 3", { name: "negatives", code: "assert add(-1, 1) == 0" }];

  it("passes a correct answer with value 1 and names the first failing test otherwise", { timeout: T }, async () => {
    const good = await scoreOutputAsync({ type: "code", language: "python" }, output, tests);
    expect(good.pass).toBe(true);
    expect(good.value).toBe(1);
    expect(good.reason).toMatch(/^2\/2 tests passed/);
    const bad = await scoreOutputAsync({ type: "code", language: "python", tests: ["assert add(1, 2) == 3", "# negatives\nassert add(-1, 1) == 0"] }, output.replace("a + b", "abs(a) + b"), undefined);
    expect(bad).toMatchObject({ pass: false, value: 0.5 });
    expect(bad.reason).toMatch(/^1\/2 tests passed; first failure "negatives": AssertionError/);
    const none = await scoreOutputAsync({ type: "code", language: "python" }, "```\n```", tests);
    expect(none.reason).toMatch(/no code/);
    const invalid = await scoreOutputAsync({ type: "code", language: "cobol" }, output, tests);
    expect(invalid.reason).toMatch(/^invalid scorer: language/);
  });

  it("a timeout fails the score even when the tests before it passed", { timeout: T }, async () => {
    const s = await scoreOutputAsync({ type: "code", language: "javascript", timeoutMs: 1500 }, "```js\nconst f = () => 1;\n```", ["assert.equal(f(), 1)", "for (;;) {}"]);
    expect(s).toMatchObject({ pass: false, value: 0.5 });
    expect(s.reason).toMatch(/killed for timeout/);
  });

  it("the scoring worker awaits code scores beside the synchronous scorers", { timeout: T }, async () => {
    const scores = await scoreBatch([
      { spec: { type: "exact" }, output: "4", expected: "4" },
      { spec: { type: "code", language: "python" }, output, expected: tests },
    ]);
    expect(scores.map((s) => s.pass)).toEqual([true, true]);
  });
});
