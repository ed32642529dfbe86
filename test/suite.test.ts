import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parseSuite } from "../src/core/suite.js";
import { HeldoutError, HeldoutErrors } from "../src/core/errors.js";
import { describeDiff, diffLock, makeLock } from "../src/core/lock.js";
import { checkFrozen, LOCK_FILE, loadSuite, readLock, writeLock } from "../src/store/suite-files.js";
import type { Suite } from "../src/core/types.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, "fixtures", "suites");
const repoRoot = path.resolve(here, "..");

const SUITE = ["name: demo", 'prompt: "Q: {{q}}\\nA:"', "scorer: exact", "maxTokens: 8", ""].join("\n");
const TASKS = [
  '{"id":"t1","area":"add","vars":{"q":"1+1"},"expected":"2"}',
  '{"id":"t2","area":"add","vars":{"q":"2+2"},"expected":"4"}',
  '{"id":"t3","area":"mul","vars":{"q":"3*3"},"expected":"9"}',
  "",
].join("\n");

function parse(suiteText: string, tasksText: string): Suite {
  return parseSuite({ dir: "suites/demo", suiteFile: "suites/demo/suite.yaml", suiteText, tasksFile: "suites/demo/tasks.jsonl", tasksText });
}

/** The error a call throws; fails the test when it throws nothing or something that is not a HeldoutError. */
function thrown(fn: () => unknown): HeldoutError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HeldoutError);
    return e as HeldoutError;
  }
  throw new Error("expected a HeldoutError, nothing was thrown");
}

/** Every individual problem, whether one HeldoutError or a HeldoutErrors was thrown. */
function problems(fn: () => unknown): HeldoutError[] {
  const e = thrown(fn);
  return e instanceof HeldoutErrors ? e.errors : [e];
}

/** The single problem a bad input produces: exactly one, located. */
function only(fn: () => unknown): HeldoutError {
  const list = problems(fn);
  expect(list.map((e) => e.format())).toHaveLength(1);
  return list[0] as HeldoutError;
}

const hashOf = (suiteText: string, tasksText: string) => parse(suiteText, tasksText).hash;

describe("parseSuite: a valid suite", () => {
  it("reads the definition, the tasks and their line numbers", () => {
    const s = parse(SUITE, TASKS);
    expect(s.name).toBe("demo");
    expect(s.promptTemplate).toBe("Q: {{q}}\nA:");
    expect(s.scorer).toEqual({ type: "exact" });
    expect(s.maxTokens).toBe(8);
    expect(s.chatTemplate).toBe("auto"); // default
    expect(s.description).toBe("");
    expect(s.dir).toBe("suites/demo");
    expect(s.tasks.map((t) => [t.id, t.line, t.area, t.expected])).toEqual([
      ["t1", 1, "add", "2"],
      ["t2", 2, "add", "4"],
      ["t3", 3, "mul", "9"],
    ]);
    expect(s.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("skips blank lines but keeps the real line numbers of later tasks", () => {
    const s = parse(SUITE, `\n${TASKS.split("\n").join("\n\n")}`);
    expect(s.tasks.map((t) => t.line)).toEqual([2, 4, 6]);
  });

  it("accepts numbers and booleans as vars, as text", () => {
    const s = parse(SUITE, '{"id":"a","vars":{"q":12},"expected":"x"}\n{"id":"b","vars":{"q":true},"expected":"y"}\n');
    expect(s.tasks.map((t) => t.vars)).toEqual([{ q: "12" }, { q: "true" }]);
  });

  it("uses a task's own scorer and does not require expected where that scorer does not", () => {
    const s = parse(SUITE, '{"id":"a","vars":{"q":"x"},"scorer":{"type":"regex","pattern":"\\\\d+"}}\n');
    expect(s.tasks[0]?.scorer).toEqual({ type: "regex", pattern: "\\d+" });
    expect(s.tasks[0]?.expected).toBeUndefined();
  });
});

describe("parseSuite: errors in tasks.jsonl name the file, the line and the field", () => {
  it("bad JSON on a line", () => {
    const e = only(() => parse(SUITE, `${TASKS}{"id":"t4", "vars": }\n`));
    expect(e.code).toBe("invalid-suite");
    expect(e.file).toBe("suites/demo/tasks.jsonl");
    expect(e.line).toBe(4);
    expect(e.field).toBeUndefined();
    expect(e.message).toMatch(/^not valid JSON: /);
    expect(e.format()).toMatch(/^suites\/demo\/tasks\.jsonl:4: not valid JSON: /);
  });

  it("bad JSON after blank lines still gets the right line", () => {
    const e = only(() => parse(SUITE, `\n\n${TASKS}\n\n{oops\n`));
    // 2 blank + 3 tasks + the trailing newline's empty line + 2 blank = the bad line is 8.
    expect(e.line).toBe(8);
  });

  it("a task that is not an object", () => {
    for (const [text, got] of [
      ["[1,2]", "a list"],
      ['"t1"', '"t1"'],
      ["42", "42"],
      ["null", "null"],
    ] as const) {
      const e = only(() => parse(SUITE, `${text}\n`));
      expect(e.line).toBe(1);
      expect(e.message).toBe(`a task must be a JSON object, got ${got}`);
    }
  });

  it("duplicate ids: reported on the second line, naming the first", () => {
    const e = only(() => parse(SUITE, `${TASKS}{"id":"t2","vars":{"q":"5+5"},"expected":"10"}\n`));
    expect(e.line).toBe(4);
    expect(e.field).toBe("id");
    expect(e.format()).toBe('suites/demo/tasks.jsonl:4: field "id": duplicate id "t2" (first used on line 2)');
  });

  it("missing, empty, blank or non-string id", () => {
    for (const [id, got] of [
      [undefined, "undefined"],
      ['""', '""'],
      ['"   "', '"   "'],
      ["7", "7"],
    ] as const) {
      const task = id === undefined ? '{"vars":{"q":"1"},"expected":"1"}' : `{"id":${id},"vars":{"q":"1"},"expected":"1"}`;
      const e = only(() => parse(SUITE, `${task}\n`));
      expect(e.line).toBe(1);
      expect(e.field).toBe("id");
      expect(e.message).toBe(`"id" must be a non-empty string, got ${got}`);
    }
  });

  it("missing expected where the scorer (exact) needs one", () => {
    const e = only(() => parse(SUITE, `${TASKS}{"id":"t4","vars":{"q":"4+4"}}\n`));
    expect(e.format()).toBe('suites/demo/tasks.jsonl:4: field "expected": exact scorer needs an expected answer');
  });

  it("expected of the wrong shape for exact", () => {
    const e = only(() => parse(SUITE, '{"id":"t1","vars":{"q":"1"},"expected":["2"]}\n'));
    expect(e.field).toBe("expected");
    expect(e.message).toBe("exact scorer needs a string, number or boolean as the expected answer");
  });

  it("unknown scorer type on a task", () => {
    const e = only(() => parse(SUITE, '{"id":"t1","vars":{"q":"1"},"expected":"2","scorer":"fuzzy"}\n'));
    expect(e.line).toBe(1);
    expect(e.field).toBe("scorer.type");
    expect(e.message).toMatch(/^unknown scorer "fuzzy"; known: .*exact.*regex/);
  });

  it("a task scorer that is neither a name nor an object with a type", () => {
    for (const scorer of ["3", '{"pattern":"x"}', "[]"]) {
      const e = only(() => parse(SUITE, `{"id":"t1","vars":{"q":"1"},"expected":"2","scorer":${scorer}}\n`));
      expect(e.field).toBe("scorer");
      expect(e.message).toBe('must be a scorer name or an object with a "type"');
    }
  });

  it("a task regex pattern that does not compile", () => {
    const e = only(() => parse(SUITE, `${TASKS}{"id":"t4","vars":{"q":"x"},"scorer":{"type":"regex","pattern":"(\\\\d+"}}\n`));
    expect(e.line).toBe(4);
    expect(e.field).toBe("scorer.pattern");
    expect(e.message).toMatch(/^pattern does not compile: /);
  });

  it("an unknown option on a task scorer", () => {
    const e = only(() => parse(SUITE, '{"id":"t1","vars":{"q":"1"},"expected":"2","scorer":{"type":"exact","tirm":false}}\n'));
    expect(e.field).toBe("scorer.tirm");
    expect(e.message).toBe('unknown option "tirm" for scorer "exact"; allowed: trim');
  });

  it("a template variable missing from a task's vars", () => {
    const e = only(() => parse(SUITE, `${TASKS}{"id":"t4","vars":{"question":"4+4"},"expected":"8"}\n`));
    expect(e.format()).toBe('suites/demo/tasks.jsonl:4: field "vars.q": the prompt template uses {{q}} but this task does not set it');
  });

  it("a task with no vars at all, for a template that needs two", () => {
    const suite = 'name: demo\nprompt: "{{a}} and {{b}}"\nscorer: exact\n';
    const list = problems(() => parse(suite, '{"id":"t1","expected":"x"}\n'));
    expect(list.map((e) => e.field)).toEqual(["vars.a", "vars.b"]);
  });

  // Regression (fixed in src/core/suite.ts parseTasks, the `needed` loop): `vars[name] === undefined` is false for names
  // inherited from Object.prototype, so a missing {{constructor}} is not reported at load time (and the
  // prompt later renders "function Object() { [native code] }"). Fix: `!Object.hasOwn(vars, name)`.
  it("a template variable named like an Object member (constructor) is still required", () => {
    const e = only(() => parse('name: demo\nprompt: "Q: {{constructor}}"\nscorer: exact\n', '{"id":"t1","expected":"1"}\n'));
    expect(e.field).toBe("vars.constructor");
  });

  it("vars that are not an object, and a var that is not text", () => {
    // Also reported: vars.q is then missing, which is true.
    const list = problems(() => parse(SUITE, '{"id":"t1","vars":["1"],"expected":"2"}\n'));
    expect(list.map((x) => [x.field, x.message])).toEqual([
      ["vars", '"vars" must be an object of strings, got a list'],
      ["vars.q", "the prompt template uses {{q}} but this task does not set it"],
    ]);
    const e = problems(() => parse(SUITE, '{"id":"t1","vars":{"q":{"x":1}},"expected":"2"}\n'));
    expect(e.map((x) => [x.field, x.message])).toContainEqual(["vars.q", "must be a string, got a mapping"]);
  });

  it("area that is not a string, tags that are not strings", () => {
    const a = only(() => parse(SUITE, '{"id":"t1","vars":{"q":"1"},"expected":"2","area":5}\n'));
    expect([a.field, a.message]).toEqual(["area", "must be a string, got 5"]);
    const t = only(() => parse(SUITE, '{"id":"t1","vars":{"q":"1"},"expected":"2","tags":["x",1]}\n'));
    expect([t.field, t.message]).toEqual(["tags", "must be a list of strings"]);
  });

  it("an unknown task field (a typo of expected)", () => {
    const list = problems(() => parse(SUITE, '{"id":"t1","vars":{"q":"1"},"expectd":"2"}\n'));
    expect(list.map((e) => e.format())).toEqual([
      'suites/demo/tasks.jsonl:1: field "expectd": unknown field; known fields: id, vars, expected, area, tags, scorer',
      'suites/demo/tasks.jsonl:1: field "expected": exact scorer needs an expected answer',
    ]);
  });

  it("an empty tasks file, or one with only blank lines", () => {
    for (const text of ["", "\n\n  \n"]) {
      const e = only(() => parse(SUITE, text));
      expect(e.file).toBe("suites/demo/tasks.jsonl");
      expect(e.message).toBe("the suite has no tasks");
    }
  });

  it("tolerates Windows line endings", () => {
    const s = parse(SUITE.replace(/\n/g, "\r\n"), TASKS.replace(/\n/g, "\r\n"));
    expect(s.tasks.map((t) => t.id)).toEqual(["t1", "t2", "t3"]);
    expect(s.hash).toBe(hashOf(SUITE, TASKS));
  });
});

describe("parseSuite: errors in suite.yaml name the file, the line and the field", () => {
  const F = "suites/demo/suite.yaml";

  it("an unknown suite field", () => {
    const e = only(() => parse(`${SUITE}max_tokens: 8\n`, TASKS));
    expect(e.format()).toBe(`${F}:5: field "max_tokens": unknown field; known fields: name, description, prompt, scorer, maxTokens, chatTemplate, rubrics, abstain`);
  });

  it("maxTokens of the wrong type or range", () => {
    const cases: [string, string][] = [
      ['"8"', 'must be a number, got "8"'],
      ["-1", "must be at least 1, got -1"],
      ["0", "must be at least 1, got 0"],
      ["2.5", "must be a whole number, got 2.5"],
      ["[8]", "must be a number, got a list"],
    ];
    for (const [value, message] of cases) {
      const e = only(() => parse(SUITE.replace("maxTokens: 8", `maxTokens: ${value}`), TASKS));
      expect(e.format()).toBe(`${F}:4: field "maxTokens": ${message}`);
    }
  });

  it("chatTemplate with a value that is not auto, never or always", () => {
    const e = only(() => parse(`${SUITE}chatTemplate: sometimes\n`, TASKS));
    expect(e.format()).toBe(`${F}:5: field "chatTemplate": must be one of auto, never, always, got "sometimes"`);
    expect(parse(`${SUITE}chatTemplate: always\n`, TASKS).chatTemplate).toBe("always");
  });

  it("a prompt with no placeholder", () => {
    const e = only(() => parse(SUITE.replace('"Q: {{q}}\\nA:"', "What is 2+2?"), '{"id":"t1","expected":"4"}\n'));
    expect(e.format()).toBe(`${F}:2: field "prompt": has no {{variable}} placeholder, so every task would get the same prompt`);
  });

  it("a missing prompt, a missing name, a name with spaces", () => {
    const noPrompt = problems(() => parse("name: demo\nscorer: exact\n", '{"id":"t1","expected":"4"}\n'));
    expect(noPrompt.map((e) => [e.field, e.message])).toEqual([["prompt", "is required"]]);
    const noName = only(() => parse(SUITE.replace("name: demo\n", ""), TASKS));
    expect([noName.field, noName.message]).toEqual(["name", "is required"]);
    const badName = only(() => parse(SUITE.replace("name: demo", "name: my suite"), TASKS));
    expect([badName.line, badName.field, badName.message]).toEqual([1, "name", "must be letters, digits, '.', '_' or '-'"]);
  });

  it("a suite file that is not a mapping", () => {
    const e = only(() => parse("- name: demo\n", TASKS));
    expect(e.format()).toBe(`${F}:1: the suite file must be a mapping of fields (name, prompt, scorer, ...)`);
  });

  it("an unknown suite scorer: reported against suite.yaml, field scorer.type", () => {
    const list = problems(() => parse(SUITE.replace("scorer: exact", "scorer: fuzzy"), TASKS));
    const inSuite = list.filter((e) => e.file === F);
    expect(inSuite).toHaveLength(1);
    expect(inSuite[0]?.field).toBe("scorer.type");
    expect(inSuite[0]?.message).toMatch(/^unknown scorer "fuzzy"; known: /);
  });

  it("a suite scorer given as neither a name nor a mapping with a type", () => {
    const e = only(() => parse(SUITE.replace("scorer: exact", "scorer: [exact]"), TASKS));
    expect(e.format()).toBe(`${F}:3: field "scorer": must be a scorer name or a mapping with a "type", got a list`);
  });

  it("a suite regex scorer whose pattern does not compile: reported against suite.yaml, field scorer.pattern", () => {
    const suite = 'name: demo\nprompt: "{{q}}"\nscorer:\n  type: regex\n  pattern: "([0-9]+"\n';
    const list = problems(() => parse(suite, TASKS));
    const inSuite = list.filter((e) => e.file === F);
    expect(inSuite).toHaveLength(1);
    expect(inSuite[0]?.field).toBe("scorer.pattern");
    expect(inSuite[0]?.message).toMatch(/^pattern does not compile: Invalid regular expression/);
  });

  // Regression (fixed in src/core/suite.ts parseDefinition + src/core/config-doc.ts FieldReader.where): suite-level scorer
  // problems are reported with the dotted field "scorer.type"/"scorer.pattern" as ONE path segment, so
  // lineOf(["scorer.pattern"]) finds nothing and falls back to the document's first line.
  it("a bad suite scorer option points at the option's own line, not line 1", () => {
    const suite = 'name: demo\nprompt: "{{q}}"\nmaxTokens: 8\nscorer:\n  type: regex\n  pattern: "([0-9]+"\n';
    const e = problems(() => parse(suite, TASKS)).find((x) => x.file === F);
    expect(e?.line).toBe(6);
  });

  it("an unknown suite scorer points at the scorer line, not line 1", () => {
    const e = problems(() => parse(SUITE.replace("scorer: exact", "scorer: fuzzy"), TASKS)).find((x) => x.file === F);
    expect(e?.line).toBe(3);
  });

  // Regression (fixed in src/core/suite.ts parseTasks): tasks that inherit the suite's scorer re-validate its options, so a
  // typo in suite.yaml is also reported once per task line of tasks.jsonl (300 tasks → 301 errors, 300 of
  // them blaming the wrong file).
  it("a bad suite scorer is reported once, in suite.yaml, not again on every task line", () => {
    const list = problems(() => parse(SUITE.replace("scorer: exact", "scorer: fuzzy"), TASKS));
    expect(list.map((e) => e.format())).toHaveLength(1);
  });

  it("a YAML syntax error: code config-syntax, in suite.yaml, with the parser's message", () => {
    const e = thrown(() => parse("name: demo\nname: again\nprompt: '{{q}}'\n", TASKS));
    const list = e instanceof HeldoutErrors ? e.errors : [e];
    expect(list[0]?.code).toBe("config-syntax");
    expect(list[0]?.file).toBe(F);
    expect(list[0]?.message).toBe("Map keys must be unique");
  });

  // Regression (fixed in src/core/config-doc.ts parseConfig): with prettyErrors:false the yaml library never sets
  // e.linePos, so every syntax error has line undefined and prints as "suite.yaml: ..." with no line.
  it("a YAML syntax error names its line", () => {
    const list = problems(() => parse("name: demo\nname: again\nprompt: '{{q}}'\n", TASKS));
    expect(list[0]?.line).toBe(2);
    expect(list[0]?.format()).toBe(`${F}:2: Map keys must be unique`);
  });
});

describe("parseSuite: several problems are reported together", () => {
  it("lists every problem, in suite.yaml and tasks.jsonl, in one HeldoutErrors", () => {
    const suite = `${SUITE}colour: red\n`;
    const tasks = [
      '{"id":"t1","vars":{"q":"1"},"expected":"2"}',
      "{broken",
      '{"id":"t1","vars":{"q":"1"},"expected":"2"}',
      '{"id":"t4","vars":{},"expected":"2"}',
      '{"id":"t5","vars":{"q":"1"}}',
      "",
    ].join("\n");
    const e = thrown(() => parse(suite, tasks));
    expect(e).toBeInstanceOf(HeldoutErrors);
    const errors = (e as HeldoutErrors).errors;
    expect(errors.map((x) => [x.file, x.line, x.field])).toEqual([
      ["suites/demo/suite.yaml", 5, "colour"],
      ["suites/demo/tasks.jsonl", 2, undefined],
      ["suites/demo/tasks.jsonl", 3, "id"],
      ["suites/demo/tasks.jsonl", 4, "vars.q"],
      ["suites/demo/tasks.jsonl", 5, "expected"],
    ]);
    expect(e.message).toBe("5 problems found");
    expect(e.code).toBe("invalid-suite");
    expect(e.format().split("\n")).toHaveLength(5);
    expect(e.format().split("\n")[2]).toBe('suites/demo/tasks.jsonl:3: field "id": duplicate id "t1" (first used on line 1)');
  });
});

describe("suite hash", () => {
  const base = hashOf(SUITE, TASKS);

  it("is the same for the same content", () => {
    expect(hashOf(SUITE, TASKS)).toBe(base);
  });

  it("does not change with key order in tasks or in suite.yaml", () => {
    const tasks = TASKS.replace('{"id":"t1","area":"add","vars":{"q":"1+1"},"expected":"2"}', '{"expected":"2","vars":{"q":"1+1"},"area":"add","id":"t1"}');
    expect(tasks).not.toBe(TASKS);
    expect(hashOf(SUITE, tasks)).toBe(base);
    const suite = ["maxTokens: 8", "scorer: exact", 'prompt: "Q: {{q}}\\nA:"', "name: demo", ""].join("\n");
    expect(hashOf(suite, TASKS)).toBe(base);
  });

  it("does not change with whitespace, blank lines, comments or task order", () => {
    const spaced = TASKS.split("\n")
      .filter(Boolean)
      .map((l) => l.replace(/:/g, " : ").replace(/,/g, " ,  "))
      .join("\n\n\n");
    expect(hashOf(SUITE, `\n${spaced}\n\n`)).toBe(base);
    const reversed = TASKS.split("\n").filter(Boolean).reverse().join("\n");
    expect(hashOf(SUITE, reversed)).toBe(base);
    expect(hashOf(`# a comment\n${SUITE.replace("maxTokens: 8", "maxTokens:    8   # tokens")}`, TASKS)).toBe(base);
  });

  it("does not change between equivalent spellings: scorer name vs mapping, numeric vs text var", () => {
    expect(hashOf(SUITE.replace("scorer: exact", "scorer:\n  type: exact"), TASKS)).toBe(base);
    const numeric = '{"id":"a","vars":{"q":7},"expected":"7"}\n';
    expect(hashOf(SUITE, numeric)).toBe(hashOf(SUITE, numeric.replace("7}", '"7"}')));
  });

  it("changes with any value in a task", () => {
    const edits: [string, string][] = [
      ['"expected":"4"', '"expected":"5"'],
      ['"expected":"4"', '"expected":4'],
      ['"q":"2+2"', '"q":"2+3"'],
      ['"id":"t2","area":"add"', '"id":"t2","area":"sum"'],
      ['"id":"t2"', '"id":"t2b"'],
      ['"expected":"4"}', '"expected":"4","tags":["x"]}'],
      ['"expected":"4"}', '"expected":"4","scorer":"normalized"}'],
    ];
    for (const [from, to] of edits) {
      const tasks = TASKS.replace(from, to);
      expect(tasks, from).not.toBe(TASKS);
      expect(hashOf(SUITE, tasks), `${from} → ${to}`).not.toBe(base);
    }
  });

  it("changes with any value in the definition", () => {
    const edits: [string, string][] = [
      ['prompt: "Q: {{q}}\\nA:"', 'prompt: "Q: {{q}}\\nA: "'],
      ["scorer: exact", "scorer: normalized"],
      ["scorer: exact", "scorer:\n  type: exact\n  trim: false"],
      ["maxTokens: 8", "maxTokens: 9"],
      ["name: demo", "name: demo2"],
    ];
    for (const [from, to] of edits) {
      expect(hashOf(SUITE.replace(from, to), TASKS), `${from} → ${to}`).not.toBe(base);
    }
    expect(hashOf(`${SUITE}chatTemplate: never\n`, TASKS)).not.toBe(base);
  });

  it("the shipped arith suite matches its lock (read only)", () => {
    const dir = path.join(repoRoot, "tasks", "arith");
    const suite = loadSuite(dir);
    const state = checkFrozen(suite);
    expect(state.state, state.state === "unfrozen" ? state.reason : "").toBe("frozen");
  });
});

describe("loadSuite", () => {
  it("loads a suite directory", () => {
    const s = loadSuite(path.join(fixtures, "basic"));
    expect(s.name).toBe("basic");
    expect(s.tasks.map((t) => t.id)).toEqual(["t1", "t2", "t3"]);
    expect(s.tasks[2]?.tags).toEqual(["easy"]);
    expect(s.chatTemplate).toBe("never");
  });

  it("accepts suite.json in place of suite.yaml", () => {
    const s = loadSuite(path.join(fixtures, "json-suite"));
    expect(s.name).toBe("json-suite");
    expect(s.scorer).toEqual({ type: "contains" });
  });

  it("reports every problem of a broken suite with file paths", () => {
    const e = thrown(() => loadSuite(path.join(fixtures, "broken")));
    expect(e).toBeInstanceOf(HeldoutErrors);
    const lines = e.format().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/broken\/suite\.yaml:4: field "maxTokens": must be a number, got "eight"$/);
    expect(lines[1]).toMatch(/broken\/tasks\.jsonl:2: not valid JSON: /);
    expect(lines[2]).toMatch(/broken\/tasks\.jsonl:3: field "id": duplicate id "a" \(first used on line 1\)$/);
    expect(lines[3]).toMatch(/broken\/tasks\.jsonl:4: field "vars\.q": the prompt template uses \{\{q\}\} but this task does not set it$/);
  });

  it("a missing suite directory", () => {
    const e = thrown(() => loadSuite(path.join(fixtures, "does-not-exist")));
    expect(e.code).toBe("suite-not-found");
    expect(e.message).toBe("suite directory not found");
    expect(e.file).toMatch(/does-not-exist$/);
  });

  it("a directory without tasks.jsonl", () => {
    const e = thrown(() => loadSuite(path.join(fixtures, "no-tasks-file")));
    expect(e.code).toBe("suite-not-found");
    expect(e.message).toBe("no tasks file");
    expect(e.file).toMatch(/no-tasks-file\/tasks\.jsonl$/);
  });

  it("a directory without suite.yaml", () => {
    const e = thrown(() => loadSuite(path.join(fixtures, "no-suite-file")));
    expect(e.code).toBe("suite-not-found");
    expect(e.message).toBe("no suite file: expected one of suite.yaml, suite.yml, suite.json");
    expect(e.file).toMatch(/no-suite-file$/);
  });
});

describe("freezing: writeLock, checkFrozen, readLock", () => {
  const temps: string[] = [];
  afterEach(() => {
    for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  /** A writable copy of the basic fixture. */
  function copyBasic(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heldout-suite-"));
    temps.push(dir);
    for (const f of ["suite.yaml", "tasks.jsonl"]) fs.copyFileSync(path.join(fixtures, "basic", f), path.join(dir, f));
    return dir;
  }
  const edit = (dir: string, file: string, f: (text: string) => string) =>
    fs.writeFileSync(path.join(dir, file), f(fs.readFileSync(path.join(dir, file), "utf8")));
  const frozenReason = (dir: string): string => {
    const state = checkFrozen(loadSuite(dir));
    if (state.state === "frozen") throw new Error("expected the suite to be unfrozen");
    return state.reason;
  };

  it("a suite without a lock is unfrozen and says how to freeze it", () => {
    const dir = copyBasic();
    expect(readLock(dir)).toBeUndefined();
    const state = checkFrozen(loadSuite(dir));
    expect(state.state).toBe("unfrozen");
    if (state.state === "unfrozen") expect(state.reason).toMatch(/^it has no suite\.lock\.json; freeze it with: heldout freeze /);
  });

  it("freeze then check: frozen, and the lock records hash, count and one hash per task", () => {
    const dir = copyBasic();
    const suite = loadSuite(dir);
    const lock = writeLock(suite);
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    expect(lock).toMatchObject({ lockVersion: 1, suite: "basic", hash: suite.hash, taskCount: 3 });
    expect(Object.keys(lock.tasks)).toEqual(["t1", "t2", "t3"]);
    expect(new Date(lock.frozenAt).toISOString()).toBe(lock.frozenAt);
    expect(readLock(dir)).toEqual(lock);
    const state = checkFrozen(loadSuite(dir));
    expect(state.state).toBe("frozen");
    if (state.state === "frozen") expect(state.lock.hash).toBe(suite.hash);
  });

  it("stays frozen after reformatting: reordered tasks, reordered keys, blank lines", () => {
    const dir = copyBasic();
    writeLock(loadSuite(dir));
    edit(dir, "tasks.jsonl", (t) => `\n${t.split("\n").filter(Boolean).reverse().join("\n\n")}\n`);
    edit(dir, "suite.yaml", (t) => `${t.split("\n").reverse().join("\n")}\n`);
    expect(checkFrozen(loadSuite(dir)).state).toBe("frozen");
  });

  it("an edited task unfreezes it, naming the task", () => {
    const dir = copyBasic();
    writeLock(loadSuite(dir));
    edit(dir, "tasks.jsonl", (t) => t.replace('"expected":"4"', '"expected":"5"'));
    const reason = frozenReason(dir);
    expect(reason).toMatch(/^its content no longer matches .*suite\.lock\.json: 1 edited \(t2\)$/);
  });

  it("an added task unfreezes it, naming the task", () => {
    const dir = copyBasic();
    writeLock(loadSuite(dir));
    edit(dir, "tasks.jsonl", (t) => `${t}{"id":"t4","vars":{"q":"4+4"},"expected":"8"}\n`);
    expect(frozenReason(dir)).toMatch(/: 1 task\(s\) added \(t4\)$/);
  });

  it("a removed task unfreezes it, naming the task", () => {
    const dir = copyBasic();
    writeLock(loadSuite(dir));
    edit(dir, "tasks.jsonl", (t) => t.split("\n").filter((l) => !l.includes('"t3"')).join("\n"));
    expect(frozenReason(dir)).toMatch(/: 1 removed \(t3\)$/);
  });

  it("a changed prompt unfreezes it, naming the prompt", () => {
    const dir = copyBasic();
    writeLock(loadSuite(dir));
    edit(dir, "suite.yaml", (t) => t.replace('"Q: {{q}}\\nA:"', '"Question: {{q}}\\nAnswer:"'));
    expect(frozenReason(dir)).toMatch(/: suite definition changed: prompt$/);
  });

  it("several changes at once are all named", () => {
    const dir = copyBasic();
    writeLock(loadSuite(dir));
    edit(dir, "suite.yaml", (t) => t.replace("maxTokens: 8", "maxTokens: 16").replace("scorer: exact", "scorer: normalized"));
    edit(dir, "tasks.jsonl", (t) =>
      t
        .split("\n")
        .filter((l) => !l.includes('"t1"'))
        .join("\n")
        .replace('"q":"3*3"', '"q":"3×3"')
        .concat('{"id":"t9","vars":{"q":"9"},"expected":"9"}\n'),
    );
    expect(frozenReason(dir)).toMatch(/: 1 task\(s\) added \(t9\); 1 removed \(t1\); 1 edited \(t3\); suite definition changed: scorer, maxTokens$/);
  });

  it("a lock that is not JSON is an error that says how to fix it", () => {
    const dir = copyBasic();
    fs.writeFileSync(path.join(dir, LOCK_FILE), "{ not json");
    const e = thrown(() => readLock(dir));
    expect(e.code).toBe("invalid-lock");
    expect(e.message).toMatch(/^lock file is not valid JSON \(.*\); re-create it with heldout freeze$/);
    expect(e.file).toMatch(/suite\.lock\.json$/);
    expect(() => checkFrozen(loadSuite(dir))).toThrow(HeldoutError);
  });
});

describe("makeLock, diffLock, describeDiff", () => {
  it("an unchanged suite diffs empty", () => {
    const s = parse(SUITE, TASKS);
    const d = diffLock(makeLock(s, new Date(0)), s);
    expect(d).toEqual({ added: [], removed: [], edited: [], definitionFields: [] });
  });

  it("freezing time is not content: two locks at different times have the same hash", () => {
    const s = parse(SUITE, TASKS);
    const a = makeLock(s, new Date(0));
    const b = makeLock(s, new Date(1e12));
    expect(a.hash).toBe(b.hash);
    expect(a.tasks).toEqual(b.tasks);
    expect(a.frozenAt).toBe("1970-01-01T00:00:00.000Z");
  });

  it("long lists are cut after 8 ids", () => {
    const ids = Array.from({ length: 11 }, (_, i) => `t${i}`);
    expect(describeDiff({ added: ids, removed: [], edited: [], definitionFields: [] })).toBe(
      "11 task(s) added (t0, t1, t2, t3, t4, t5, t6, t7, … 3 more)",
    );
  });

  it("a hash mismatch with no difference blames the lock file", () => {
    expect(describeDiff({ added: [], removed: [], edited: [], definitionFields: [] })).toMatch(/lock file was edited/);
  });
});

describe("rubrics in suite.yaml", () => {
  it("parse into weighted criteria, and a suite without rubrics keeps its hash", () => {
    const plain = parse(SUITE, TASKS);
    const withRubrics = parse(`${SUITE}rubrics:\n  strict:\n    - {name: right, scorer: task, gate: true}\n  loose:\n    - {name: digits, scorer: {type: regex, pattern: "\\\\d"}, points: 2}\n`, TASKS);
    expect(withRubrics.rubrics).toEqual([
      { name: "strict", criteria: [{ name: "right", scorer: "task", weight: 1, points: 0, gate: true }] },
      { name: "loose", criteria: [{ name: "digits", scorer: { type: "regex", pattern: "\\d" }, weight: 0, points: 2, gate: false }] },
    ]);
    expect(plain.rubrics).toBeUndefined();
    expect(withRubrics.hash).not.toBe(plain.hash);
    expect(parse(SUITE, TASKS).hash).toBe(plain.hash);
  });

  it("name the criterion at fault", () => {
    const e = only(() => parse(`${SUITE}rubrics:\n  r:\n    - {name: x, scorer: {type: judge, model: m}}\n`, TASKS));
    expect(e.format()).toMatch(/field "rubrics\.r\.0\.scorer\.rubric": needs a rubric/);
    const w = only(() => parse(`${SUITE}rubrics:\n  r:\n    - {name: x, scorer: task, weight: -1}\n`, TASKS));
    expect(w.format()).toMatch(/field "rubrics\.r\.0\.weight": must be a number ≥ 0/);
  });
});
