import type { AblationFile, AblationVariant } from "../weights/ablate.js";
import { formatRate, textTable } from "./table.js";

/** The ablation's terminal table: one row per variant, pass-rate change per area (points), * where significant. */

export function ablationAreas(a: AblationFile): string[] {
  return a.intact.areas.map((x) => x.area);
}

/** Points of pass-rate change of a variant in an area (the overall change when the suite has one area). */
export function areaChange(v: AblationVariant, area: string): { difference: number | null; significant: boolean; p: number | null } {
  const c = v.areas.find((x) => x.area === area)?.comparison ?? (v.areas.length === 0 ? v.overall : undefined);
  return c ? { difference: c.difference, significant: c.significant, p: c.pAdjusted ?? c.pValue } : { difference: null, significant: false, p: null };
}

export function ablationTable(a: AblationFile): string {
  const areas = ablationAreas(a);
  const head = ["variant", "zeroed", "pass", "Δ overall", ...areas.map((x) => `Δ ${x}`)];
  const pts = (d: number | null, sig: boolean) => (d === null ? "–" : `${d >= 0 ? "+" : ""}${(d * 100).toFixed(1)}${sig ? "*" : ""}`);
  const intactRow = ["intact", "–", formatRate(a.intact.passRate), "", ...areas.map((x) => formatRate(a.intact.areas.find((y) => y.area === x)?.passRate ?? null))];
  const rows = a.variants.map((v) => [v.name, v.zeroed.map((z) => z.tensor).join(" "), formatRate(v.passRate), pts(v.overall.difference, v.overall.significant), ...areas.map((x) => {
    const c = areaChange(v, x);
    return pts(c.difference, c.significant);
  })]);
  const out = textTable(head, [intactRow, ...rows], 2);
  out.push("", "Δ: points of pass rate against the intact model, paired over tasks; * significant (areas Holm-adjusted across every variant × area cell; overall across variants). The intact row shows pass rates.");
  if (a.control) out.push(a.control.identical ? `Control (${a.control.modelId}, written the same way with nothing zeroed): all ${a.control.tasks} outputs identical to the intact model's.` : `Control (${a.control.modelId}): ${a.control.differingOutputs} of ${a.control.tasks} outputs DIFFER from the intact model's: the comparison is not clean (nondeterministic decoding?).`);
  const untouched = a.variants.filter((v) => !v.areas.some((x) => x.comparison.difference !== null && x.comparison.difference !== 0) && (v.overall.difference ?? 0) === 0);
  if (untouched.length) out.push(`No area changed at all under: ${untouched.map((v) => v.name).join(", ")}.`);
  if (a.variantsDeleted) out.push("The variant files were deleted after the run (--delete-variants); the records keep their sha256.");
  return out.join("\n");
}
