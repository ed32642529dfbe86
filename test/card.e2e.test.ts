import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildTree, inclusionProof, leafHash, merkleRoot, nodeHash, verifyProof } from "../src/core/merkle.js";
import { copySuite, heldout, readJsonl, ROOT, tempDir } from "./helpers/cli.js";

const sha = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest("hex");
const hex = (s: string) => Buffer.from(s, "hex");
const h = (s: string) => createHash("sha256").update(s).digest("hex");

describe("merkle tree (hand-checkable)", () => {
  // Three leaves, given out of order: a, b, c by id. Levels: [La, Lb, Lc] → [N(La,Lb), Lc] → root.
  const leaves = [
    { id: "c", hash: h("task c") },
    { id: "a", hash: h("task a") },
    { id: "b", hash: h("task b") },
  ];
  const La = sha(Buffer.from([0]), hex(h("task a")));
  const Lb = sha(Buffer.from([0]), hex(h("task b")));
  const Lc = sha(Buffer.from([0]), hex(h("task c")));
  const Nab = sha(Buffer.from([1]), hex(La), hex(Lb));
  const root = sha(Buffer.from([1]), hex(Nab), hex(Lc));

  it("hashes leaves and nodes with domain separation, orders by id and promotes an odd node", () => {
    expect(leafHash(h("task a"))).toBe(La);
    expect(nodeHash(La, Lb)).toBe(Nab);
    const tree = buildTree(leaves);
    expect(tree.ids).toEqual(["a", "b", "c"]);
    expect(tree.levels).toEqual([[La, Lb, Lc], [Nab, Lc], [root]]);
    expect(tree.root).toBe(root);
    expect(merkleRoot([...leaves].reverse())).toBe(root);
    // One leaf: the root is the leaf hash; a leaf hash is never a node hash of the same bytes.
    expect(merkleRoot([{ id: "a", hash: h("task a") }])).toBe(La);
  });

  it("gives inclusion proofs with sibling sides; a promoted node adds no step", () => {
    const tree = buildTree(leaves);
    expect(inclusionProof(tree, "a")?.path).toEqual([
      { side: "right", hash: Lb },
      { side: "right", hash: Lc },
    ]);
    expect(inclusionProof(tree, "b")?.path).toEqual([
      { side: "left", hash: La },
      { side: "right", hash: Lc },
    ]);
    expect(inclusionProof(tree, "c")?.path).toEqual([{ side: "left", hash: Nab }]);
    expect(inclusionProof(tree, "zzz")).toBeUndefined();
    for (const id of ["a", "b", "c"]) expect(verifyProof(h(`task ${id}`), inclusionProof(tree, id)!, root)).toBe(true);
    expect(verifyProof(h("task x"), inclusionProof(tree, "a")!, root)).toBe(false);
    expect(verifyProof(h("task a"), inclusionProof(tree, "b")!, root)).toBe(false);
  });

  it("verifies every leaf's proof for trees of 1 to 17 leaves", () => {
    for (let n = 1; n <= 17; n++) {
      const ls = Array.from({ length: n }, (_, i) => ({ id: `t${String(i).padStart(2, "0")}`, hash: h(`t${i}`) }));
      const tree = buildTree(ls);
      for (const l of ls) expect(verifyProof(l.hash, inclusionProof(tree, l.id)!, tree.root)).toBe(true);
      // Changing any one task changes the root.
      const edited = ls.map((l, i) => (i === n - 1 ? { ...l, hash: h("edited") } : l));
      expect(merkleRoot(edited)).not.toBe(tree.root);
    }
  });
});

interface SuiteTask {
  id: string;
  vars: { problem: string };
  expected: string;
}

/** Every string in a JSON value, object keys included. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
}

describe("heldout card (demo run)", () => {
  const tmp = tempDir();
  const run = join(tmp, "d");
  const tasks = readJsonl<SuiteTask>(join(ROOT, "tasks/arith/tasks.jsonl"));
  let outputs: string[] = [];

  beforeAll(() => {
    const r = heldout(["run", "--out", tmp, "--run-id", "d", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    outputs = [...new Set(readJsonl<{ output: string }>(join(run, "records.jsonl")).map((x) => x.output))];
    for (const ext of ["json", "md", "svg"]) {
      const c = heldout(["card", run, "--out", join(tmp, `card.${ext}`)]);
      expect(c.code, c.stderr).toBe(0);
    }
  }, 240_000);

  it("holds no prompt, expected answer or output", () => {
    // Prompts ("27+34=", "9085|") carry an operator: grep every card file for each of them.
    // Expected answers and outputs are digit strings ("61", "5809") that occur by chance inside
    // hashes and figures, so the raw grep covers only outputs longer than 3 characters with a
    // non-digit in them; the JSON card is checked exactly: no string in it (keys included) is an
    // expected answer or a (non-empty) output, and none contains a prompt.
    expect(outputs.length).toBeGreaterThan(0);
    const longOutputs = outputs.filter((o) => o.trim().length > 3 && /\D/.test(o.trim()));
    for (const ext of ["json", "md", "svg"]) {
      const text = readFileSync(join(tmp, `card.${ext}`), "utf8");
      for (const t of tasks) expect(text.includes(t.vars.problem), `${ext} card holds ${t.id}'s prompt`).toBe(false);
      for (const o of longOutputs) expect(text.includes(o), `${ext} card holds output ${JSON.stringify(o)}`).toBe(false);
    }
    // `system` (hardware and software, e.g. an OS release "12") is left out of the exact check: it
    // comes from the machine, not the suite or the model, and may equal a short answer by chance.
    const { system, ...card } = JSON.parse(readFileSync(join(tmp, "card.json"), "utf8")) as Record<string, unknown>;
    expect(system).toBeTruthy();
    const all = new Set(strings(card));
    for (const t of tasks) expect(all.has(t.expected), `expected answer of ${t.id}`).toBe(false);
    for (const o of outputs.filter((x) => x !== "")) expect(all.has(o), `output ${JSON.stringify(o)}`).toBe(false);
    for (const s of all) for (const t of tasks) expect(s.includes(t.vars.problem)).toBe(false);
  });

  it("commits to the suite and carries models, figures with intervals, verdicts, hardware", () => {
    const card = JSON.parse(readFileSync(join(tmp, "card.json"), "utf8")) as {
      suite: { tasks: number; areas: Record<string, number>; merkle: { root: string } };
      models: { sha256: string }[];
      cells: { figures: { passRateInterval: unknown; areas: unknown[] } }[];
      comparisons: { verdict: string }[];
      system: { cpu: unknown };
      reveal: unknown[];
    };
    expect(card.suite.tasks).toBe(tasks.length);
    expect(Object.values(card.suite.areas).reduce((a, b) => a + b, 0)).toBe(tasks.length);
    expect(card.suite.merkle.root).toMatch(/^[0-9a-f]{64}$/);
    expect(card.models.length).toBeGreaterThan(1);
    for (const m of card.models) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    for (const c of card.cells) expect(c.figures.passRateInterval).not.toBeNull();
    expect(card.comparisons.length).toBe(card.cells.length - 1);
    expect(card.system.cpu).toBeTruthy();
    expect(card.reveal).toEqual([]);
    const md = readFileSync(join(tmp, "card.md"), "utf8");
    expect(md).toContain(card.suite.merkle.root);
    expect(readFileSync(join(tmp, "card.svg"), "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });

  it("verifies against the suite, and fails against an edited one naming the root", () => {
    const ok = heldout(["card", "verify", join(tmp, "card.json"), "--suite", "tasks/arith"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("card verifies");

    const edited = copySuite("arith");
    const file = join(edited, "tasks.jsonl");
    writeFileSync(file, readFileSync(file, "utf8").replace('"expected":"61"', '"expected":"62"'));
    const bad = heldout(["card", "verify", join(tmp, "card.json"), "--suite", edited]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL: Merkle root differs/);
    expect(bad.stdout).toMatch(/FAIL: suite hash differs/);
    expect(bad.stdout).not.toMatch(/task count differs/);
  });

  it("reveals chosen tasks with proofs that verify; a tampered revealed task fails", () => {
    const out = join(tmp, "reveal.json");
    const r = heldout(["card", run, "--out", out, "--reveal", "add-001,sort-007"]);
    expect(r.code, r.stderr).toBe(0);
    const card = JSON.parse(readFileSync(out, "utf8")) as { reveal: { task: { id: string; expected: string; vars: { problem: string } } }[] };
    expect(card.reveal.map((x) => x.task.id)).toEqual(["add-001", "sort-007"]);
    expect(card.reveal[0]?.task.vars.problem).toBe("27+34=");

    const ok = heldout(["card", "verify", out, "--suite", "tasks/arith"]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toContain("revealed task add-001: proof verifies");
    expect(ok.stdout).toContain("revealed task sort-007: proof verifies");

    // The task edited: its content no longer hashes to the leaf.
    const tampered = JSON.parse(readFileSync(out, "utf8")) as typeof card & { reveal: { hash: string; proof: { path: { hash: string }[] } }[] };
    tampered.reveal[0]!.task.expected = "62";
    writeFileSync(join(tmp, "tampered.json"), JSON.stringify(tampered));
    const bad = heldout(["card", "verify", join(tmp, "tampered.json")]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL: revealed task add-001: its content hashes to/);

    // The task and its hash edited together: the proof no longer reaches the root.
    const forged = JSON.parse(readFileSync(out, "utf8")) as typeof tampered;
    forged.reveal[0]!.task.expected = "62";
    forged.reveal[0]!.hash = createHash("sha256").update(canonical(forged.reveal[0]!.task)).digest("hex");
    writeFileSync(join(tmp, "forged.json"), JSON.stringify(forged));
    const bad2 = heldout(["card", "verify", join(tmp, "forged.json"), "--suite", "tasks/arith"]);
    expect(bad2.code).toBe(1);
    expect(bad2.stdout).toMatch(/FAIL: revealed task add-001: its inclusion proof does not lead/);
    expect(bad2.stdout).toContain("ok: Merkle root matches");
  });
});

function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v !== null && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(value));
}
