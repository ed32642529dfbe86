import { existsSync } from "node:fs";
import { join } from "node:path";
import type { AblationFile } from "../weights/ablate.js";
import type { QuantizationFile } from "../weights/quantize-sweep.js";
import { readJson } from "./results.js";

/** The files `quantize-sweep` and `ablate` add to their run folders (the report reads them). */
export const QUANTIZATION_FILE = "quantization.json";
export const ABLATION_FILE = "ablation.json";

export function readQuantization(runDir: string): QuantizationFile | null {
  const file = join(runDir, QUANTIZATION_FILE);
  return existsSync(file) ? readJson<QuantizationFile>(file) : null;
}

export function readAblation(runDir: string): AblationFile | null {
  const file = join(runDir, ABLATION_FILE);
  return existsSync(file) ? readJson<AblationFile>(file) : null;
}
