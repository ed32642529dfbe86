import { createHash } from "node:crypto";

/**
 * What a GGUF says about how its text becomes tokens, recorded with every run so a changed score
 * can be traced to a changed tokenizer: the tokenizer model and pre-tokenizer type, whether BOS/EOS
 * are added and a leading space is prefixed, and hashes of the vocabulary, merges and chat
 * template (two files with the same hashes tokenize and template alike). Pure: metadata in.
 */
export interface TokenizerFacts {
  model: string | null;
  /** BPE pre-tokenizer type; missing in GGUFs converted before llama.cpp recorded it (they may tokenize wrongly). */
  pre: string | null;
  vocabularySize: number | null;
  bosId: number | null;
  eosId: number | null;
  addBos: boolean | null;
  addEos: boolean | null;
  addSpacePrefix: boolean | null;
  tokensSha256: string | null;
  mergesSha256: string | null;
  chatTemplateSha256: string | null;
}

const sha256 = (parts: readonly unknown[]) => {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(`${String(p)}\u0000`);
  return hash.digest("hex");
};

export function tokenizerFacts(metadata: unknown): TokenizerFacts {
  const tokenizer = (metadata as { tokenizer?: { ggml?: Record<string, unknown>; chat_template?: unknown } } | null)?.tokenizer;
  const ggml = tokenizer?.ggml ?? {};
  const list = (v: unknown) => (Array.isArray(v) ? v : null);
  const num = (v: unknown) => (typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : null);
  const bool = (v: unknown) => (typeof v === "boolean" ? v : null);
  const tokens = list(ggml.tokens);
  const merges = list(ggml.merges);
  const template = typeof tokenizer?.chat_template === "string" && tokenizer.chat_template.length > 0 ? tokenizer.chat_template : null;
  return {
    model: typeof ggml.model === "string" ? ggml.model : null,
    pre: typeof ggml.pre === "string" ? ggml.pre : null,
    vocabularySize: tokens?.length ?? null,
    bosId: num(ggml.bos_token_id),
    eosId: num(ggml.eos_token_id),
    addBos: bool(ggml.add_bos_token),
    addEos: bool(ggml.add_eos_token),
    addSpacePrefix: bool(ggml.add_space_prefix),
    tokensSha256: tokens ? sha256(tokens) : null,
    mergesSha256: merges ? sha256(merges) : null,
    chatTemplateSha256: template ? sha256([template]) : null,
  };
}
