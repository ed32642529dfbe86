import { randomBytes } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { GGML_TYPES, tensorBytes, type TensorPlan } from "./shapes.js";

/**
 * A minimal GGUF (version 3) writer: metadata, tensor infos, aligned data. Enough for llama.cpp
 * to load a model of any shape; the weight values are random (generation cost does not depend on
 * them), so its outputs are noise.
 */

export type GgufValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "strings"; value: readonly string[] }
  | { type: "f32s"; value: readonly number[] }
  | { type: "i32s"; value: readonly number[] };

const T = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;
const ALIGNMENT = 32;

class Out {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(b);
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeValue(o: Out, v: GgufValue): void {
  switch (v.type) {
    case "u32":
      o.u32(T.UINT32), o.u32(v.value);
      return;
    case "i32":
      o.u32(T.INT32), o.i32(v.value);
      return;
    case "f32":
      o.u32(T.FLOAT32), o.f32(v.value);
      return;
    case "bool":
      o.u32(T.BOOL), o.push(Buffer.from([v.value ? 1 : 0]));
      return;
    case "string":
      o.u32(T.STRING), o.str(v.value);
      return;
    case "strings":
      o.u32(T.ARRAY), o.u32(T.STRING), o.u64(v.value.length);
      for (const s of v.value) o.str(s);
      return;
    case "f32s":
      o.u32(T.ARRAY), o.u32(T.FLOAT32), o.u64(v.value.length);
      for (const x of v.value) o.f32(x);
      return;
    case "i32s":
      o.u32(T.ARRAY), o.u32(T.INT32), o.u64(v.value.length);
      for (const x of v.value) o.i32(x);
      return;
  }
}

const pad = (n: number) => (ALIGNMENT - (n % ALIGNMENT)) % ALIGNMENT;

/** f16 bit patterns of small values: random weights in about ±0.03, and quantization scales. */
const F16_SCALE = 0x1c00; // 0.00390625: q8_0 × 127 ≈ ±0.5, q4_0 × 8 ≈ ±0.03

export function writeGguf(path: string, metadata: Record<string, GgufValue>, tensors: readonly TensorPlan[]): number {
  const head = new Out();
  head.push(Buffer.from("GGUF", "latin1"));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) {
    head.str(key);
    writeValue(head, value);
  }
  let offset = 0;
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(GGML_TYPES[t.type].id);
    head.u64(offset);
    offset += tensorBytes(t) + pad(tensorBytes(t));
  }
  const headBytes = head.buffer();
  const fd = openSync(path, "w");
  try {
    writeSync(fd, headBytes);
    writeSync(fd, Buffer.alloc(pad(headBytes.length)));
    for (const t of tensors) {
      writeTensor(fd, t);
      writeSync(fd, Buffer.alloc(pad(tensorBytes(t))));
    }
  } finally {
    closeSync(fd);
  }
  return headBytes.length + pad(headBytes.length) + offset;
}

function writeTensor(fd: number, t: TensorPlan): void {
  const total = tensorBytes(t);
  const g = GGML_TYPES[t.type];
  const CHUNK = g.blockBytes * 32768;
  for (let done = 0; done < total; done += CHUNK) {
    const n = Math.min(CHUNK, total - done);
    let b: Buffer;
    if (t.fill === "ones") {
      b = Buffer.alloc(n);
      for (let i = 0; i < n; i += 4) b.writeFloatLE(1, i);
    } else if (t.type === "f32") {
      b = Buffer.alloc(n);
      const r = randomBytes(n / 4);
      for (let i = 0; i < n / 4; i++) b.writeFloatLE(((r[i] as number) - 127.5) / 4096, i * 4);
    } else if (t.type === "f16") {
      b = randomBytes(n);
      // Keep every value a small finite half: sign and mantissa random, exponent fixed small.
      for (let i = 0; i < n; i += 2) b.writeUInt16LE((b.readUInt16LE(i) & 0x83ff) | 0x2000, i);
    } else {
      b = randomBytes(n);
      // Random quants, one valid small f16 scale at the start of every block.
      for (let i = 0; i < n; i += g.blockBytes) b.writeUInt16LE(F16_SCALE, i);
    }
    writeSync(fd, b);
  }
}
