import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Energy used while a cell generates, where the machine can say: Intel/AMD RAPL package counters
 * (/sys/class/powercap/intel-rapl:N/energy_uj, microjoules, wrapping at max_energy_range_uj) and
 * NVIDIA GPUs' power readings (nvidia-smi, sampled every 500 ms and integrated over time). Where
 * neither is readable (most VMs, containers without the counters) both figures are null and a
 * cost profile's stated watts are used instead.
 */
export interface EnergyReading {
  cpuJoules: number | null;
  gpuJoules: number | null;
  sources: string[];
}

const RAPL = "/sys/class/powercap";

function raplZones(): { file: string; max: number }[] {
  if (!existsSync(RAPL)) return [];
  return readdirSync(RAPL)
    .filter((d) => /^intel-rapl:\d+$/.test(d))
    .map((d) => ({ file: join(RAPL, d, "energy_uj"), max: Number(readFileSafe(join(RAPL, d, "max_energy_range_uj")) ?? 0) }))
    .filter((z) => readFileSafe(z.file) !== null);
}

function readFileSafe(file: string): string | null {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

/** Joules from two readings of a wrapping microjoule counter. */
export function counterJoules(before: number, after: number, max: number): number {
  const delta = after >= before ? after - before : after + (max - before);
  return delta / 1e6;
}

export function startPowerMeter(): { stop(): Promise<EnergyReading> } {
  const zones = raplZones();
  const before = zones.map((z) => Number(readFileSafe(z.file)));
  let gpuJoules: number | null = null;
  let last = performance.now();
  let running = true;
  let pending: Promise<void> = Promise.resolve();
  const sample = () =>
    new Promise<void>((done) => {
      execFile("nvidia-smi", ["--query-gpu=power.draw", "--format=csv,noheader,nounits"], { timeout: 2000 }, (error, stdout) => {
        // No nvidia-smi here: stop asking.
        if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") running = false;
        const now = performance.now();
        const watts = error ? NaN : stdout.split("\n").map(Number).filter(Number.isFinite).reduce((s, w) => s + w, 0);
        if (Number.isFinite(watts)) gpuJoules = (gpuJoules ?? 0) + (watts * (now - last)) / 1000;
        last = now;
        done();
      });
    });
  const timer = setInterval(() => {
    if (running) pending = pending.then(sample);
  }, 500);
  timer.unref();
  return {
    async stop() {
      running = false;
      clearInterval(timer);
      await pending;
      const cpuJoules = zones.length ? zones.reduce((s, z, i) => s + counterJoules(before[i] as number, Number(readFileSafe(z.file)), z.max), 0) : null;
      const sources = [...(cpuJoules !== null ? ["RAPL"] : []), ...(gpuJoules !== null ? ["nvidia-smi"] : [])];
      return { cpuJoules, gpuJoules, sources };
    },
  };
}
