import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import si from "systeminformation";

/** The hardware and software a run happened on, recorded in its manifest. */
export interface Fingerprint {
  cpu: { manufacturer: string; brand: string; cores: number; physicalCores: number; speedGHz: number | null; flags: string[] };
  memory: { totalBytes: number };
  /** `driver`: the GPU driver version where the system reports one (NVIDIA: from nvidia-smi). */
  gpus: { vendor: string; model: string; vramBytes: number | null; driver?: string | null }[];
  os: { platform: string; distro: string; release: string; kernel: string; arch: string };
  software: { node: string; heldout: string; nodeLlamaCpp: string };
}

const require = createRequire(import.meta.url);

export function packageVersion(name: string): string {
  try {
    if (name === "heldout") {
      return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
    }
    const main = require.resolve(name);
    const marker = `node_modules/${name}/`;
    const root = main.slice(0, main.lastIndexOf(marker) + marker.length);
    return (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** GPU detection can shell out to slow tools; a fingerprint must never hold a run up for long. */
async function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((done) => (timer = setTimeout(() => done(fallback), ms)));
  try {
    return await Promise.race([promise.catch(() => fallback), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function fingerprint(): Promise<Fingerprint> {
  const [cpu, flags, mem, graphics, os] = await Promise.all([
    si.cpu(),
    withTimeout(si.cpuFlags(), 5000, ""),
    si.mem(),
    withTimeout(si.graphics(), 10_000, { controllers: [], displays: [] }),
    si.osInfo(),
  ]);
  const interesting = /^(avx|avx2|avx512\w*|amx\w*|fma|f16c|neon|sve\w*|sse4_2|bmi2)$/;
  return {
    cpu: {
      manufacturer: cpu.manufacturer,
      brand: cpu.brand,
      cores: cpu.cores,
      physicalCores: cpu.physicalCores,
      speedGHz: cpu.speed || null,
      flags: flags.split(/\s+/).filter((f) => interesting.test(f)).sort(),
    },
    memory: { totalBytes: mem.total },
    gpus: graphics.controllers
      .filter((g) => g.model || g.vendor)
      .map((g) => ({ vendor: g.vendor, model: g.model, vramBytes: g.vram ? g.vram * 1024 * 1024 : null, driver: g.driverVersion || null })),
    os: { platform: os.platform, distro: os.distro, release: os.release, kernel: os.kernel, arch: os.arch },
    software: { node: process.version, heldout: packageVersion("heldout"), nodeLlamaCpp: packageVersion("node-llama-cpp") },
  };
}
