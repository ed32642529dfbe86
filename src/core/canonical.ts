import { createHash } from "node:crypto";

/**
 * JSON with object keys sorted at every depth, so the same content always hashes the same,
 * whatever order a user wrote the keys in.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    // No prototype: a "__proto__" key in user data must stay an ordinary key (and count in the hash).
    const out = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A short stable id for a piece of content: the first 12 hex digits of its canonical sha256. */
export function contentId(value: unknown): string {
  return sha256Hex(canonicalJson(value)).slice(0, 12);
}
