#!/usr/bin/env node
// Regenerates tasks/arith/tasks.jsonl: 60 problems in each of the five areas the arith checkpoints
// were trained on (../shared/models/README.md), drawn with a fixed seed so the suite is reproducible.
// After regenerating, re-freeze: `heldout freeze tasks/arith`.
import { writeFileSync } from "node:fs";
import { seeded } from "../seeded.mjs";

const PER_AREA = Number(process.argv[2] ?? 60);
const SEED = 20261125;

const { int } = seeded(SEED);
const fourDigits = () => String(int(1000, 9999));

const areas = {
  add: () => { const a = int(0, 99), b = int(0, 99); return [`${a}+${b}=`, String(a + b)]; },
  sub: () => { let a = int(0, 99), b = int(0, 99); if (a < b) [a, b] = [b, a]; return [`${a}-${b}=`, String(a - b)]; },
  max: () => { const a = int(0, 99); let b = int(0, 99); while (b === a) b = int(0, 99); return [`${a},${b}>`, String(Math.max(a, b))]; },
  rev: () => { const s = fourDigits(); return [`${s}|`, [...s].reverse().join("")]; },
  sort: () => { const s = fourDigits(); return [`${s}^`, [...s].sort().join("")]; },
};

const lines = [];
for (const [area, make] of Object.entries(areas)) {
  const seen = new Set();
  while (seen.size < PER_AREA) {
    const [problem, answer] = make();
    if (seen.has(problem)) continue;
    seen.add(problem);
    lines.push(JSON.stringify({ id: `${area}-${String(seen.size).padStart(3, "0")}`, area, vars: { problem }, expected: answer }));
  }
}
writeFileSync(new URL("./tasks.jsonl", import.meta.url), `${lines.join("\n")}\n`);
console.log(`wrote ${lines.length} tasks`);
