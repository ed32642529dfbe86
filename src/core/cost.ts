import { FieldReader, isRecord, parseConfig, Problems } from "./config-doc.js";

/**
 * What a cell costs (pure): energy and money per generated token, per request, and per passing
 * task: the figure that ranks models by what a working output costs, not what a token costs.
 *
 * A cost profile (profiles/cost-*.yaml) states the inputs: power draw (or measured energy where the
 * machine reports it), the electricity price, the hardware's price amortised over its lifetime,
 * and API prices per million tokens for outputs made elsewhere (`backend: outputs`).
 */

export interface CostProfile {
  name: string;
  file: string;
  currency: string;
  /** Average draw while generating, used where no measurement exists. */
  cpuWatts: number;
  gpuWatts: number;
  /** Use measured energy (RAPL counters, nvidia-smi power readings) where the machine gives it. */
  measure: boolean;
  pricePerKwh: number;
  /** Hardware price amortised over its lifetime: cost per second of use = price ÷ (lifetime hours × 3600). */
  hardwarePrice: number;
  lifetimeHours: number;
  /** API prices per million tokens, for `backend: outputs` cells and the model ids listed in `apiModels`. */
  inputPerMillion: number | null;
  outputPerMillion: number | null;
  apiModels: string[];
}

const FIELDS = ["name", "description", "currency", "power", "electricity", "hardware", "api"] as const;

export function parseCostProfile(file: string, text: string): CostProfile {
  const problems = new Problems("invalid-cost");
  const doc = parseConfig(file, text);
  if (!isRecord(doc.value)) {
    problems.add("a cost profile must be a mapping (name, power, electricity, hardware, api)", { file, line: 1 });
    problems.throwIfAny();
  }
  const r = new FieldReader(doc, doc.value as Record<string, unknown>, [], problems);
  r.rejectUnknown(FIELDS);
  const power = r.child("power");
  power?.rejectUnknown(["cpuWatts", "gpuWatts", "measure"]);
  const electricity = r.child("electricity");
  electricity?.rejectUnknown(["pricePerKwh"]);
  const hardware = r.child("hardware");
  hardware?.rejectUnknown(["price", "lifetimeHours"]);
  const api = r.child("api");
  api?.rejectUnknown(["inputPerMillion", "outputPerMillion", "models"]);
  const nonNegative = { min: 0 };
  const profile: CostProfile = {
    name: r.string("name") ?? "cost",
    file,
    currency: r.string("currency", "USD") ?? "USD",
    cpuWatts: power?.number("cpuWatts", 0, nonNegative) ?? 0,
    gpuWatts: power?.number("gpuWatts", 0, nonNegative) ?? 0,
    measure: power?.boolean("measure", true) ?? true,
    pricePerKwh: electricity?.number("pricePerKwh", 0, nonNegative) ?? 0,
    hardwarePrice: hardware?.number("price", 0, nonNegative) ?? 0,
    lifetimeHours: hardware?.number("lifetimeHours", 26_280, { min: 1 }) ?? 26_280,
    inputPerMillion: api?.number("inputPerMillion", undefined, nonNegative) ?? null,
    outputPerMillion: api?.number("outputPerMillion", undefined, nonNegative) ?? null,
    apiModels: api?.stringList("models", []) ?? [],
  };
  problems.throwIfAny();
  return profile;
}

/** What a cell used, as the runner measured it. */
export interface CellUsage {
  modelId: string;
  /** outputs cells are priced by tokens; local cells by time and energy. */
  priced: "api" | "local";
  generations: number;
  passed: number;
  promptTokens: number;
  completionTokens: number;
  /** Generation wall time of all its executions (null: not timed). */
  wallMs: number | null;
  /** Measured energy during generation, where the machine reports it. */
  measuredJoules: { cpu: number | null; gpu: number | null };
}

export interface CellCost {
  currency: string;
  priced: "api" | "local";
  /** Joules (local cells): measured where available, else stated watts × wall time. */
  energyJoules: number | null;
  energySource: string;
  energyWhPer1kTokens: number | null;
  electricity: number | null;
  hardware: number | null;
  api: number | null;
  total: number | null;
  perMillionTokens: number | null;
  perRequest: number | null;
  /** total ÷ tasks passed; null with `nonePassed` when nothing passed (the cost of a working output is unbounded). */
  perPassingTask: number | null;
  nonePassed: boolean;
  /** The inputs, stated with the figures. */
  inputs: string;
}

export function cellCost(p: CostProfile, u: CellUsage): CellCost {
  const per = (total: number | null) => ({
    perMillionTokens: total !== null && u.completionTokens > 0 ? (total * 1e6) / u.completionTokens : null,
    perRequest: total !== null && u.generations > 0 ? total / u.generations : null,
    perPassingTask: total !== null && u.passed > 0 ? total / u.passed : null,
    nonePassed: u.passed === 0,
  });
  if (u.priced === "api") {
    const known = p.inputPerMillion !== null && p.outputPerMillion !== null;
    const api = known ? (u.promptTokens * (p.inputPerMillion as number) + u.completionTokens * (p.outputPerMillion as number)) / 1e6 : null;
    return {
      currency: p.currency,
      priced: "api",
      energyJoules: null,
      energySource: "not measured (generated elsewhere)",
      energyWhPer1kTokens: null,
      electricity: null,
      hardware: null,
      api,
      total: api,
      ...per(api),
      inputs: known ? `API ${p.inputPerMillion} ${p.currency} per 1M prompt tokens, ${p.outputPerMillion} per 1M completion tokens; ${u.promptTokens} prompt and ${u.completionTokens} completion tokens` : "no API prices in the cost profile (api.inputPerMillion, api.outputPerMillion)",
    };
  }
  if (u.wallMs === null) {
    return { currency: p.currency, priced: "local", energyJoules: null, energySource: "not timed", energyWhPer1kTokens: null, electricity: null, hardware: null, api: null, total: null, ...per(null), inputs: "no generation wall time recorded" };
  }
  const seconds = u.wallMs / 1000;
  const cpu = p.measure && u.measuredJoules.cpu !== null ? { j: u.measuredJoules.cpu, how: "CPU measured (RAPL)" } : { j: p.cpuWatts * seconds, how: `CPU ${p.cpuWatts} W stated` };
  const gpu = p.measure && u.measuredJoules.gpu !== null ? { j: u.measuredJoules.gpu, how: "GPU measured (nvidia-smi)" } : { j: p.gpuWatts * seconds, how: `GPU ${p.gpuWatts} W stated` };
  const joules = cpu.j + gpu.j;
  const electricity = (joules / 3.6e6) * p.pricePerKwh;
  const hardware = (p.hardwarePrice * seconds) / (p.lifetimeHours * 3600);
  const total = electricity + hardware;
  return {
    currency: p.currency,
    priced: "local",
    energyJoules: joules,
    energySource: `${cpu.how}, ${gpu.how}`,
    energyWhPer1kTokens: u.completionTokens > 0 ? (joules / 3600) * (1000 / u.completionTokens) : null,
    electricity,
    hardware,
    api: null,
    total,
    ...per(total),
    inputs: `${seconds.toFixed(3)} s of generation; ${(joules / 3600).toFixed(4)} Wh (${cpu.how}, ${gpu.how}) at ${p.pricePerKwh} ${p.currency}/kWh; hardware ${p.hardwarePrice} ${p.currency} over ${p.lifetimeHours} h`,
  };
}
