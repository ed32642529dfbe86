import { readGgufFileInfo } from "node-llama-cpp";

/**
 * The roofline: generating one token with one sequence reads every weight once, so tokens/s can
 * be at most memory bandwidth ÷ bytes of weights. The machine's bandwidth is measured here with a
 * large memory copy (the best of several, each reading and writing `bytes`), once per profile.
 */
export function measureCopyBandwidth(bytes = 256 * 2 ** 20, repeats = 5): number {
  const a = Buffer.alloc(bytes, 1);
  const b = Buffer.alloc(bytes);
  let best = 0;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    a.copy(b);
    const s = (performance.now() - t0) / 1000;
    // A copy reads and writes every byte: 2 × bytes of traffic.
    best = Math.max(best, (2 * bytes) / s);
  }
  return best;
}

export interface ModelWeights {
  /** Bytes of every weight read per generated token (the token embedding is a lookup: not counted). */
  bytesPerToken: number;
  parameters: number;
}

export async function modelWeights(path: string): Promise<ModelWeights> {
  const info = await readGgufFileInfo(path);
  let bytes = 0;
  let parameters = 0;
  const tensors = info.fullTensorInfo ?? [];
  tensors.forEach((t, i) => {
    const elements = t.dimensions.reduce((a: number, b) => a * Number(b), 1);
    parameters += elements;
    // Tensor data is laid out in order: a tensor's size is the gap to the next offset (or to the end).
    const next = tensors[i + 1];
    const size = next ? Number(next.offset) - Number(t.offset) : 0; // the last one: from the file's end, below
    if (t.name !== "token_embd.weight") bytes += size;
  });
  const last = tensors[tensors.length - 1];
  if (last && last.name !== "token_embd.weight") {
    const { statSync } = await import("node:fs");
    const end = statSync(path).size;
    // Tensor data starts at the end of the tensor infos, aligned (32 bytes unless the file says otherwise).
    const alignment = Number((info.metadata.general as { alignment?: number } | undefined)?.alignment ?? 32);
    const dataStart = Math.ceil(Number(info.infoEndOffset ?? 0) / alignment) * alignment;
    bytes += Math.max(0, end - (dataStart + Number(last.offset)));
  }
  return { bytesPerToken: bytes, parameters };
}
