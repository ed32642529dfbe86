import { statSync } from "node:fs";
import { GgmlType, readGgufFileInfo } from "node-llama-cpp";
import { checkGgufHeader } from "../backends/gguf-header.js";
import { HeldoutError } from "../core/errors.js";

/** A GGUF file's tensors: name, shape, ggml type and where the data lies in the file. */
export interface TensorEntry {
  name: string;
  /** ggml order: dims[0] is the row length. */
  dims: number[];
  type: string;
  fileOffset: number;
  /** Bytes from this tensor's start to the next tensor's (or the file's end): data plus alignment padding. */
  span: number;
}

export async function ggufTensors(path: string): Promise<TensorEntry[]> {
  let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
  try {
    checkGgufHeader(path);
    info = await readGgufFileInfo(path, { readTensorInfo: true });
  } catch (error) {
    throw new HeldoutError("invalid-model", `cannot read the tensors of ${path}: ${(error as Error).message.split("\n")[0]}`, { file: path });
  }
  if ((info.splicedParts ?? 1) > 1) throw new HeldoutError("invalid-model", `${path} is split into ${info.splicedParts} files; join them first (llama-gguf-split --merge)`, { file: path });
  const tensors = [...(info.fullTensorInfo ?? info.tensorInfo ?? [])].sort((a, b) => Number(a.fileOffset) - Number(b.fileOffset));
  const size = statSync(path).size;
  return tensors.map((t, i) => {
    const start = Number(t.fileOffset);
    const next = tensors[i + 1];
    return {
      name: t.name,
      dims: t.dimensions.map(Number),
      type: (GgmlType[t.ggmlType] ?? `type${t.ggmlType}`).toLowerCase(),
      fileOffset: start,
      span: (next ? Number(next.fileOffset) : size) - start,
    };
  });
}

/** Elements per quantization block of a ggml type (the row length must be a multiple of it). */
export function blockSize(type: string): number {
  const t = type.toLowerCase();
  if (t === "f32" || t === "f16" || t === "bf16") return 1;
  if (/^(q[2-6]_k|iq[1-4]_(xxs|xs|s|m|nl)?|tq[12]_0|iq4_xs|iq3_s|iq2_s|iq1_m)/.test(t) && !/^iq4_nl/.test(t)) return 256;
  return 32;
}
