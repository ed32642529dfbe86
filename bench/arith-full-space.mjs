#!/usr/bin/env node
// heldout against the arith checkpoints' ground-truth table on the WHOLE problem space of add
// (all 10,000 a+b with a, b in 0..99) and sub (all 5,050 a-b with a ≥ b): no sampling error.
// The table was computed on the 20% of problems held out from training; the full space also
// holds the 80% seen in training, so a checkpoint may score slightly above its table row.
//   npm run build && node bench/arith-full-space.mjs [step=300,600]
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const steps = (process.argv[2] ?? "300,600").split(",");
const TABLE = { // ../shared/models/README.md
  60: { add: 0.006, sub: 0.015 }, 150: { add: 0.045, sub: 0.025 }, 300: { add: 0.491, sub: 0.21 },
  600: { add: 0.9, sub: 0.82 }, 1500: { add: 0.992, sub: 0.979 }, 6000: { add: 1, sub: 1 },
};
const suite = mkdtempSync(join(tmpdir(), "heldout-arith-full-"));
copyFileSync(join(root, "tasks/arith/suite.yaml"), join(suite, "suite.yaml"));
const lines = [];
for (let a = 0; a < 100; a++) for (let b = 0; b < 100; b++) lines.push(JSON.stringify({ id: `${a}+${b}`, area: "add", vars: { problem: `${a}+${b}=` }, expected: String(a + b) }));
for (let a = 0; a < 100; a++) for (let b = 0; b <= a; b++) lines.push(JSON.stringify({ id: `${a}-${b}`, area: "sub", vars: { problem: `${a}-${b}=` }, expected: String(a - b) }));
writeFileSync(join(suite, "tasks.jsonl"), `${lines.join("\n")}\n`);
const models = steps.flatMap((s) => ["--model", `models/arith-step${s}.yaml`]);
const r = spawnSync(process.execPath, [join(root, "bin/heldout.js"), "run", "--suite", suite, "--allow-unfrozen", ...models, "--out", join(suite, "results"), "--json", "-q"], { cwd: root, encoding: "utf8" });
if (r.status !== 0) throw new Error(r.stderr);
console.log("checkpoint       area  heldout (all problems)  table (held-out 20%)");
for (const cell of JSON.parse(r.stdout).cells) {
  const step = cell.modelId.replace("arith-step", "");
  for (const a of cell.areas) console.log(`${cell.modelId.padEnd(16)} ${a.area.padEnd(4)}  ${a.passRate.toFixed(3).padStart(8)} (n = ${a.n})  ${String(TABLE[step]?.[a.area] ?? "–").padStart(12)}`);
}
