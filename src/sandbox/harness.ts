/**
 * The test harnesses written beside the solution in each execution's temp directory. Each loads the
 * solution, runs the tests one by one in the same process, and appends one JSON line per event to a
 * result file (argv: solution file, tests file, result file):
 *
 *   {"event":"loaded"}                                   the solution ran to the end of its top level
 *   {"event":"load-error","type":"SyntaxError","message":"..."}
 *   {"i":0,"ok":true}  /  {"i":1,"ok":false,"type":"AssertionError","message":"...","memory":false}
 *   {"event":"done"}
 *
 * A test is code that passes when it runs without raising; a test that is a single expression also
 * fails when its value is false (Python `False`, JavaScript `false`). Tests not reported did not run.
 * The harness exits at once after the last test, so threads, timers or servers the solution left
 * running cannot keep it alive.
 */

export const PYTHON_HARNESS = String.raw`
import gc, json, os, sys, types

def describe(e):
    message = str(e)
    return {"type": type(e).__name__, "message": message[:1000], "memory": isinstance(e, MemoryError)}

def main():
    solution_path, tests_path, result_path = sys.argv[1:4]
    out = open(result_path, "w", encoding="utf-8")
    def emit(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()
    with open(tests_path, encoding="utf-8") as f:
        tests = json.load(f)
    with open(solution_path, encoding="utf-8") as f:
        source = f.read()
    module = types.ModuleType("solution")
    module.__file__ = os.path.abspath(solution_path)
    sys.modules["solution"] = module
    try:
        exec(compile(source, "solution.py", "exec"), module.__dict__)
    except BaseException as e:
        emit(dict(event="load-error", **describe(e)))
        out.close()
        os._exit(1)
    emit({"event": "loaded"})
    for i, test in enumerate(tests):
        namespace = dict(module.__dict__)
        try:
            try:
                compiled, is_expression = compile(test["code"], "<test %d>" % (i + 1), "eval"), True
            except SyntaxError:
                compiled, is_expression = compile(test["code"], "<test %d>" % (i + 1), "exec"), False
            value = eval(compiled, namespace)
            if is_expression and value is False:
                emit({"i": i, "ok": False, "type": "AssertionError", "message": "evaluated to False", "memory": False})
            else:
                emit({"i": i, "ok": True})
        except BaseException as e:
            emit(dict(i=i, ok=False, **describe(e)))
        del namespace
        gc.collect()
    emit({"event": "done"})
    out.close()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(0)

main()
`;

export const JAVASCRIPT_HARNESS = String.raw`
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const assert = require("node:assert");
const { createRequire } = require("node:module");
const { pathToFileURL } = require("node:url");

const [solutionPath, testsPath, resultPath] = process.argv.slice(2);
const out = fs.openSync(resultPath, "w");
const emit = (obj) => fs.writeSync(out, JSON.stringify(obj) + "\n");
const MEMORY = /out of memory|allocation failed|Invalid array length|Invalid string length/i;
function describe(e) {
  const type = e && typeof e === "object" && typeof e.name === "string" ? e.name : typeof e;
  const message = String(e && typeof e === "object" && "message" in e ? e.message : e).slice(0, 1000);
  return { type, message, memory: MEMORY.test(message) };
}
const finish = (code) => { try { fs.closeSync(out); } catch {} process.exit(code); };

async function main() {
  const tests = JSON.parse(fs.readFileSync(testsPath, "utf8"));
  const source = fs.readFileSync(solutionPath, "utf8");
  globalThis.assert = assert;
  try {
    if (/^\s*(import\s*[\w{*'"]|export\s)/m.test(source)) {
      // An ES module: imported; its exports are what the tests see.
      const file = path.resolve("solution.mjs");
      fs.writeFileSync(file, source);
      const ns = await import(pathToFileURL(file).href);
      for (const [k, v] of Object.entries(ns)) if (k !== "default" && !(k in globalThis)) globalThis[k] = v;
      if (typeof ns.default === "function" && ns.default.name && !(ns.default.name in globalThis)) globalThis[ns.default.name] = ns.default;
    } else {
      // A script: its top-level declarations are visible to the tests; module.exports too.
      const module = { exports: {} };
      globalThis.module = module;
      globalThis.exports = module.exports;
      globalThis.require = createRequire(path.resolve(solutionPath));
      vm.runInThisContext(source, { filename: "solution.js" });
      const ex = module.exports;
      if (typeof ex === "function" && ex.name && !(ex.name in globalThis)) globalThis[ex.name] = ex;
      else if (ex && typeof ex === "object") for (const [k, v] of Object.entries(ex)) if (!(k in globalThis)) globalThis[k] = v;
    }
  } catch (e) {
    emit({ event: "load-error", ...describe(e) });
    return finish(1);
  }
  emit({ event: "loaded" });
  for (let i = 0; i < tests.length; i++) {
    const code = tests[i].code;
    try {
      let fn;
      let isExpression = true;
      try {
        fn = vm.runInThisContext("(async () => (\n" + code + "\n))", { filename: "test " + (i + 1) });
      } catch (e) {
        if (!(e instanceof SyntaxError)) throw e;
        isExpression = false;
        fn = vm.runInThisContext("(async () => {\n" + code + "\n})", { filename: "test " + (i + 1) });
      }
      const value = await fn();
      if (isExpression && value === false) emit({ i, ok: false, type: "AssertionError", message: "evaluated to false", memory: false });
      else emit({ i, ok: true });
    } catch (e) {
      emit({ i, ok: false, ...describe(e) });
    }
  }
  emit({ event: "done" });
  finish(0);
}

main().catch((e) => { try { emit({ event: "load-error", ...describe(e) }); } catch {} finish(1); });
`;
