import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { AblationFile } from "../src/weights/ablate.js";
import { heldout, tempDir } from "./helpers/cli.js";

// The acceptance on arith-step6000 (4 blocks, every area 1.000): each block's attention
// and feed-forward output projection zeroed in turn, plus a control copy with nothing zeroed.
describe("heldout ablate on arith-step6000", () => {
  const out = tempDir();
  let a: AblationFile;
  let stdout = "";
  beforeAll(() => {
    const r = heldout(["ablate", "--model", "models/arith-step6000.yaml", "--blocks", "all", "--parts", "attn,ffn", "--out", out, "--run-id", "ablate", "-q"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    stdout = r.stdout;
    a = JSON.parse(readFileSync(join(out, "ablate", "ablation.json"), "utf8")) as AblationFile;
  }, 600_000);

  it("reproduces the intact model's outputs exactly when nothing is zeroed", () => {
    expect(a.control).toMatchObject({ tasks: 1000, differingOutputs: 0, identical: true });
    expect(stdout).toMatch(/all 1000 outputs identical to the intact model's/);
  });

  it("finds, for every block, an area whose pass rate its ablation changes significantly", () => {
    expect(a.source.blocks).toBe(4);
    expect(a.variants.map((v) => v.name)).toEqual(["b0-attn", "b0-ffn", "b1-attn", "b1-ffn", "b2-attn", "b2-ffn", "b3-attn", "b3-ffn"]);
    for (let b = 0; b < 4; b++) {
      const changed = a.variants.filter((v) => v.ablation.blocks[0] === b).some((v) => v.areas.some((x) => x.comparison.difference !== 0 && x.comparison.significant));
      expect(changed, `block ${b}`).toBe(true);
    }
    expect(a.intact.areas.map((x) => x.area)).toEqual(["add", "max", "rev", "sort", "sub"]);
  });

  it("names each ablation exactly: the tensors zeroed, in the record and the variant's manifest", () => {
    const v = a.variants.find((x) => x.name === "b2-ffn");
    expect(v?.zeroed.map((z) => z.tensor)).toEqual(["blk.2.ffn_down.weight"]);
    expect(v?.ablation).toEqual({ blocks: [2], parts: ["ffn"] });
    const manifest = JSON.parse(readFileSync(join(out, "ablate", "manifest.json"), "utf8")) as { cells: { modelId: string; modelFile: string }[] };
    const cell = manifest.cells.find((c) => c.modelId === "arith-step6000-ablate-b2-ffn");
    expect(readFileSync(cell?.modelFile as string, "utf8")).toMatch(/with zeroed blk\.2\.ffn_down\.weight/);
  });

  it("prints the table and writes the heat map and table into the report", () => {
    expect(stdout).toMatch(/variant\s+zeroed\s+pass\s+Δ overall\s+Δ add/);
    const html = readFileSync(join(out, "ablate", "report.html"), "utf8");
    expect(html).toContain('data-plot="ablation-heatmap"');
    expect(html).toContain('id="ablation-table"');
  });

  it("deletes the variants on request", () => {
    const v = a.variants[0]?.file as string;
    expect(existsSync(v)).toBe(true);
    const r = heldout(["ablate", "--clean", "--model", "models/arith-step6000.yaml"]);
    expect(r.code).toBe(0);
    expect(existsSync(v)).toBe(false);
  });

  it("rejects a block the model does not have, naming the option", () => {
    const r = heldout(["ablate", "--model", "models/arith-step6000.yaml", "--blocks", "7", "--out", tempDir(), "-q"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/field "blocks": --blocks: "7" is not a block of this model \(it has blocks 0–3\)/);
  });
});
