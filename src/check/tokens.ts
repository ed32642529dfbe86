/**
 * `heldout check tokens`, the pure part: comparing the token ids two backends feed the model for
 * the same prompt, the tokenizer traps read from a GGUF's metadata and from what each backend fed,
 * the report's shape and its text form. No I/O here (src/check/token-sources.ts does that).
 *
 * Why it matters: the same weights scored 0.004 or 0.671 on one public benchmark depending on
 * whether BOS was added, and node-llama-cpp's LlamaCompletion, which drops SentencePiece's
 * leading-space token, turns an arith checkpoint that scores 1.000 into 0.07–0.53.
 */

export type ChatTemplateSetting = "auto" | "never" | "always";

// ---------------------------------------------------------------------------------------------
// Comparing sequences

/** How a candidate differs from the reference at the first differing position, when it is one simple edit. */
export type TokenEdit =
  | { type: "dropped"; id: number }
  | { type: "inserted"; id: number }
  | { type: "replaced"; from: number; to: number };

export type IdComparison = { agree: true } | { agree: false; position: number; edit: TokenEdit | null };

/**
 * The first position where `candidate` differs from `reference` (the shorter length when one is a
 * prefix of the other), and whether the whole difference is one dropped, inserted or replaced token.
 */
export function compareIds(reference: readonly number[], candidate: readonly number[]): IdComparison {
  const n = Math.min(reference.length, candidate.length);
  let position = 0;
  while (position < n && reference[position] === candidate[position]) position++;
  if (position === n && reference.length === candidate.length) return { agree: true };
  const same = (a: readonly number[], aFrom: number, b: readonly number[], bFrom: number) =>
    a.length - aFrom === b.length - bFrom && a.slice(aFrom).every((x, i) => x === b[bFrom + i]);
  let edit: TokenEdit | null = null;
  if (reference.length === candidate.length + 1 && same(reference, position + 1, candidate, position)) edit = { type: "dropped", id: reference[position] as number };
  else if (candidate.length === reference.length + 1 && same(reference, position, candidate, position + 1)) edit = { type: "inserted", id: candidate[position] as number };
  else if (reference.length === candidate.length && same(reference, position + 1, candidate, position + 1))
    edit = { type: "replaced", from: reference[position] as number, to: candidate[position] as number };
  return { agree: false, position, edit };
}

export type CountComparison = { agree: true; count: number } | { agree: false; reference: number; candidate: number; delta: number };

/** A backend that exposes no tokenizer is compared by the prompt token count it reports. */
export function compareCount(referenceIds: readonly number[], candidateCount: number): CountComparison {
  if (referenceIds.length === candidateCount) return { agree: true, count: candidateCount };
  return { agree: false, reference: referenceIds.length, candidate: candidateCount, delta: candidateCount - referenceIds.length };
}

// ---------------------------------------------------------------------------------------------
// Tokenizer facts and traps

/** What a GGUF says about its tokenizer (tokenizer.ggml.* and tokenizer.chat_template). */
export interface TokenizerFacts {
  /** tokenizer.ggml.model: "llama" (SentencePiece), "gpt2" (byte-level BPE), "bert", "t5", ... */
  model: string | null;
  /** tokenizer.ggml.pre: the pre-tokenizer of a BPE vocabulary; null when the key is missing. */
  pre: string | null;
  bosId: number | null;
  eosId: number | null;
  /** The BOS token's text in the vocabulary ("<s>"). */
  bosText: string | null;
  /** tokenizer.ggml.add_bos_token; null when the key is missing (llama.cpp then uses the vocabulary type's default). */
  addBos: boolean | null;
  /** tokenizer.ggml.add_space_prefix; null when missing. */
  addSpacePrefix: boolean | null;
  chatTemplate: string | null;
  vocabularySize: number;
}

/** The token strings of the vocabulary and their types (tokenizer.ggml.tokens, token_type). */
export interface Vocabulary {
  pieces: readonly string[];
  /** GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  types: readonly number[];
}

const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

/** Whether llama.cpp adds BOS for this vocabulary: the GGUF key, else the vocabulary type's default (llama-vocab.cpp). */
export function effectiveAddBos(facts: TokenizerFacts): boolean | null {
  if (facts.addBos !== null) return facts.addBos;
  switch (facts.model) {
    case "llama":
    case "bert":
      return true;
    case "t5":
    case "rwkv":
      return false;
    default:
      return null; // BPE: depends on the pre-tokenizer
  }
}

/** Whether llama.cpp writes SentencePiece's leading space before the first text: the GGUF key, else true for SentencePiece only. */
export function effectiveAddSpacePrefix(facts: TokenizerFacts): boolean {
  if (facts.addSpacePrefix !== null) return facts.addSpacePrefix;
  return facts.model === "llama";
}

/** What one backend fed the model, summarised over every prompt it gave ids for. */
export interface BackendObservation {
  backend: string;
  /** The chat template it applied ("JinjaTemplate", "server", "ollama"), null when none; undefined when it cannot say. */
  chatTemplate: string | null | undefined;
  /** Prompts it gave token ids for. */
  prompts: number;
  /** ... of them starting with BOS, and with BOS twice. */
  startsWithBos: number;
  doubleBos: number;
  /**
   * Prompts sent without a chat template whose first token after BOS is text (not a control
   * token), and of those, the ones whose first piece has no leading space.
   */
  textFirst: number;
  noLeadingSpace: number;
  /** The first prompt without the leading space, for the message. */
  noLeadingSpaceExample: string | null;
}

/** Summarises the id sequences one backend fed (pure; the vocabulary tells text tokens from control tokens). */
export function observeBackend(
  backend: string,
  chatTemplate: string | null | undefined,
  sequences: readonly { key: string; ids: readonly number[] }[],
  facts: TokenizerFacts | null,
  vocab: Vocabulary | null,
): BackendObservation {
  const o: BackendObservation = { backend, chatTemplate, prompts: 0, startsWithBos: 0, doubleBos: 0, textFirst: 0, noLeadingSpace: 0, noLeadingSpaceExample: null };
  const bos = facts?.bosId ?? null;
  for (const { key, ids } of sequences) {
    o.prompts++;
    let first = 0;
    if (bos !== null && ids[0] === bos) {
      o.startsWithBos++;
      first = 1;
      if (ids[1] === bos) o.doubleBos++;
    }
    // The leading-space rule is about plain text; a chat template's own text decides what follows BOS.
    const id = ids[first];
    if (id === undefined || !vocab || (chatTemplate !== null && chatTemplate !== undefined)) continue;
    const type = vocab.types[id];
    const piece = vocab.pieces[id];
    if (piece === undefined || type === TOKEN_TYPE_CONTROL || type === TOKEN_TYPE_USER_DEFINED) continue;
    o.textFirst++;
    if (!piece.startsWith("\u2581") && !piece.startsWith(" ")) {
      o.noLeadingSpace++;
      o.noLeadingSpaceExample ??= key;
    }
  }
  return o;
}

export interface TrapInput {
  /** null when the model is not a local GGUF (a server manifest only). */
  facts: TokenizerFacts | null;
  suiteChatTemplate: ChatTemplateSetting;
  /** Where the suite's setting lives, for the message (".../suite.yaml"). */
  suiteFile: string;
  backends: readonly BackendObservation[];
}

export interface Trap {
  code: string;
  /** A warning fails the check (exit 1); a note is information. */
  severity: "warning" | "note";
  message: string;
  backend?: string;
}

const BPE_MODELS = new Set(["gpt2"]);

/** The known tokenizer traps, from the GGUF's facts and what each backend fed. */
export function tokenizerTraps(input: TrapInput): Trap[] {
  const traps: Trap[] = [];
  const { facts } = input;
  if (facts) {
    if (facts.model !== null && BPE_MODELS.has(facts.model) && !facts.pre) {
      traps.push({
        code: "missing-pre-tokenizer",
        severity: "warning",
        message:
          "the GGUF has no pre-tokenizer type (tokenizer.ggml.pre): llama.cpp falls back to its 'default' regex and warns that generation quality will be degraded; reconvert the model with a current convert_hf_to_gguf.py",
      });
    }
    if (facts.chatTemplate && input.suiteChatTemplate === "never") {
      traps.push({
        code: "chat-template-not-applied",
        severity: "warning",
        message: `the GGUF has a chat template but ${input.suiteFile} sets chatTemplate: never, so prompts go in as plain text; an instruct model scores differently without its template (use chatTemplate: auto, unless plain completion is what the suite measures)`,
      });
    }
    if (!facts.chatTemplate && input.suiteChatTemplate === "always") {
      traps.push({
        code: "chat-template-missing",
        severity: "warning",
        message: `${input.suiteFile} sets chatTemplate: always but the GGUF has no chat template: the engine falls back to a generic one the model was never trained on`,
      });
    }
  }
  const applied = input.backends.filter((b) => b.chatTemplate !== undefined && b.chatTemplate !== null);
  const plain = input.backends.filter((b) => b.chatTemplate === null);
  if (applied.length > 0 && plain.length > 0) {
    traps.push({
      code: "chat-template-differs",
      severity: "warning",
      message: `${applied.map((b) => b.backend).join(", ")} appl${applied.length === 1 ? "ies" : "y"} a chat template (${[...new Set(applied.map((b) => b.chatTemplate))].join(", ")}); ${plain.map((b) => b.backend).join(", ")} send${plain.length === 1 ? "s" : ""} the plain text`,
    });
  }
  const addBos = facts ? effectiveAddBos(facts) : null;
  for (const b of input.backends) {
    if (b.prompts === 0 || !facts || facts.bosId === null) continue;
    if (b.doubleBos > 0) {
      traps.push({
        code: "bos-doubled",
        severity: "warning",
        backend: b.backend,
        message: `${b.backend} feeds BOS twice in ${b.doubleBos} of ${b.prompts} prompts${facts.chatTemplate && templateWritesBos(facts) ? " (the chat template writes BOS itself and the tokenizer adds another)" : ""}`,
      });
    }
    const withoutBos = b.prompts - b.startsWithBos;
    if (addBos === true && withoutBos > 0) {
      traps.push({
        code: "bos-missing",
        severity: "warning",
        backend: b.backend,
        message: `${b.backend} feeds no BOS in ${withoutBos} of ${b.prompts} prompts, though the model adds one (add_bos_token ${facts.addBos === null ? `not set; the default for ${facts.model}` : "true"})`,
      });
    }
    if (addBos === false && b.startsWithBos > 0 && !(b.chatTemplate && templateWritesBos(facts))) {
      traps.push({
        code: "bos-added",
        severity: "warning",
        backend: b.backend,
        message: `${b.backend} starts ${b.startsWithBos} of ${b.prompts} prompts with BOS, though the model adds none (add_bos_token ${facts.addBos === null ? `not set; the default for ${facts.model}` : "false"})`,
      });
    }
    if (effectiveAddSpacePrefix(facts) && b.noLeadingSpace > 0) {
      traps.push({
        code: "leading-space-missing",
        severity: "warning",
        backend: b.backend,
        message: `${b.backend} starts ${b.noLeadingSpace} of ${b.textFirst} prompts without SentencePiece's leading space (first: ${b.noLeadingSpaceExample}), though llama.cpp adds it (add_space_prefix ${facts.addSpacePrefix === null ? "not set; the default for SentencePiece" : "true"}); node-llama-cpp's LlamaCompletion drops it, and an arith checkpoint scoring 1.000 falls to 0.07–0.53`,
      });
    }
  }
  if (facts?.chatTemplate && templateWritesBos(facts) && addBos === true && !traps.some((t) => t.code === "bos-doubled")) {
    traps.push({
      code: "template-writes-bos",
      severity: "note",
      message:
        "the chat template writes BOS itself and the model also adds one: an engine that renders the template and then tokenizes with special tokens feeds BOS twice (none of the backends checked did)",
    });
  }
  return traps;
}

/** Whether the chat template writes BOS at its start ({{ bos_token }}, or the BOS text itself). */
export function templateWritesBos(facts: TokenizerFacts): boolean {
  const template = facts.chatTemplate;
  if (!template) return false;
  const head = template.trimStart().slice(0, 200);
  return /\{\{-?\s*bos_token\s*-?\}\}/.test(head) || (facts.bosText !== null && facts.bosText !== "" && head.includes(facts.bosText));
}

// ---------------------------------------------------------------------------------------------
// The report

/** One side of a mismatch: the sequence's length and ids, its pieces around the position, its text. */
export interface SequenceView {
  backend: string;
  length: number;
  /** Index of the first id in `ids` / `pieces` (a window around the differing position). */
  from: number;
  ids: number[];
  /** The vocabulary's token strings (SentencePiece's ▁ is a space), or "#id" where unknown. */
  pieces: string[];
  /** The whole sequence detokenized (special tokens as text), when a detokenizer was at hand. */
  text: string | null;
}

export interface Mismatch {
  backend: string;
  taskId: string;
  /** The prompt variant (profile `prompts`; "suite" for the suite's own prompt). */
  variant: string;
  mode: "ids" | "count";
  /** ids: the first differing position and the simple edit it is, if it is one. */
  position?: number;
  edit?: TokenEdit | null;
  reference: SequenceView;
  /** ids: the candidate's sequence. */
  candidate?: SequenceView;
  /** count: what the candidate reported. */
  candidateCount?: number;
  /** The candidate failed on this prompt. */
  error?: string;
}

export interface BackendSummary {
  backend: string;
  /** ids: compared token by token; count: by the prompt token count it reports; failed: gave nothing; skipped: not asked (see note). */
  mode: "ids" | "count" | "failed" | "skipped";
  reference: boolean;
  prompts: number;
  agree: number;
  /** agree / prompts (1 for the reference). */
  share: number;
  errors: number;
  /** Why the backend gave nothing, or a note about it. */
  note?: string;
  chatTemplate?: string | null;
}

export interface TokensReport {
  suite: { name: string; dir: string; hash: string; chatTemplate: ChatTemplateSetting; tasks: number; variants: string[] };
  model: { id: string; file: string | null; path: string | null };
  reference: string | null;
  backends: BackendSummary[];
  /** Prompts on which every backend that answered agrees with the reference. */
  agreeing: number;
  prompts: number;
  share: number;
  mismatches: Mismatch[];
  facts: TokenizerFacts | null;
  traps: Trap[];
  /** No mismatch, no failed backend, no warning. */
  ok: boolean;
}

/** A window of `radius` tokens either side of `position`, with pieces from the vocabulary. */
export function sequenceView(backend: string, ids: readonly number[], position: number, vocab: Vocabulary | null, text: string | null, radius = 6): SequenceView {
  const from = Math.max(0, position - radius);
  const window = ids.slice(from, position + radius + 1);
  return { backend, length: ids.length, from, ids: [...window], pieces: window.map((id) => pieceOf(id, vocab)), text };
}

export function pieceOf(id: number, vocab: Vocabulary | null): string {
  const piece = vocab?.pieces[id];
  return piece === undefined ? `#${id}` : piece;
}

/** Exit status: 0 when everything agrees and no trap fired, 1 otherwise. */
export function exitCodeOf(report: TokensReport): number {
  return report.ok ? 0 : 1;
}

export function isOk(backends: readonly BackendSummary[], mismatches: readonly Mismatch[], traps: readonly Trap[]): boolean {
  return mismatches.length === 0 && backends.every((b) => b.mode !== "failed") && !traps.some((t) => t.severity === "warning");
}

// ---------------------------------------------------------------------------------------------
// Text output

const fmtShare = (x: number) => x.toFixed(3);

function describeEdit(edit: TokenEdit | null | undefined, vocab: Vocabulary | null): string {
  if (!edit) return "";
  const p = (id: number) => `${id} ${JSON.stringify(pieceOf(id, vocab))}`;
  switch (edit.type) {
    case "dropped":
      return `: drops ${p(edit.id)}`;
    case "inserted":
      return `: inserts ${p(edit.id)}`;
    case "replaced":
      return `: ${p(edit.from)} → ${p(edit.to)}`;
  }
}

function viewLine(view: SequenceView, position: number | null, width: number): string {
  const cells = view.pieces.map((piece, i) => {
    const shown = JSON.stringify(piece).slice(1, -1);
    return view.from + i === position ? `[${shown}]` : shown;
  });
  const before = view.from > 0 ? "… " : "";
  const after = view.from + view.ids.length < view.length ? " …" : "";
  const text = view.text === null ? "" : `   ${JSON.stringify(truncate(view.text, 120))}`;
  return `    ${view.backend.padEnd(width)}  ${view.length} tokens: ${before}${cells.join("|")}${after}${text}`;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/**
 * The report as text: the tokenizer facts, one row per backend (share of prompts agreeing with the
 * reference), the first `show` mismatches of each backend with both sequences around the first
 * differing position, and the traps.
 */
export function formatTokensReport(report: TokensReport, vocab: Vocabulary | null, show = 5): string {
  const out: string[] = [];
  const variants = report.suite.variants.length > 1 ? ` × ${report.suite.variants.length} prompt variants` : "";
  out.push(`tokens: ${report.suite.name} (${report.suite.tasks} tasks${variants}, chatTemplate: ${report.suite.chatTemplate}) on ${report.model.id}${report.model.path ? ` (${report.model.path})` : ""}`);
  const f = report.facts;
  if (f) {
    const flag = (v: boolean | null, eff: boolean | null) => (v === null ? `${eff === null ? "unset" : String(eff)} (default)` : String(v));
    out.push(
      `tokenizer: ${f.model ?? "?"}${f.model === "llama" ? " (SentencePiece)" : f.model === "gpt2" ? " (BPE)" : ""}, pre-tokenizer ${f.pre ?? "none"}, BOS ${f.bosId ?? "none"}${f.bosText ? ` ${JSON.stringify(f.bosText)}` : ""}, EOS ${f.eosId ?? "none"}, add_bos ${flag(f.addBos, effectiveAddBos(f))}, add_space_prefix ${flag(f.addSpacePrefix, effectiveAddSpacePrefix(f))}, chat template ${f.chatTemplate ? "yes" : "none"}, ${f.vocabularySize} tokens`,
    );
  }
  out.push("");
  const width = Math.max(7, ...report.backends.map((b) => b.backend.length));
  out.push(`${"backend".padEnd(width)}  compares  prompts  agree      share  chat template`);
  for (const b of report.backends) {
    const share = b.reference ? "reference" : b.mode === "failed" || b.mode === "skipped" ? "-" : fmtShare(b.share);
    const template = b.mode === "failed" || b.mode === "skipped" ? "" : b.chatTemplate === undefined ? "?" : b.chatTemplate === null ? "none" : b.chatTemplate;
    out.push(`${b.backend.padEnd(width)}  ${b.mode.padEnd(8)}  ${String(b.prompts).padStart(7)}  ${String(b.agree).padStart(5)}  ${share.padStart(9)}  ${template}${b.errors ? `  (${b.errors} failed)` : ""}`.trimEnd());
    if (b.note) out.push(`${" ".repeat(width)}  ${b.note}`);
  }
  out.push("");
  const compared = report.backends.filter((b) => !b.reference && (b.mode === "ids" || b.mode === "count")).length;
  if (report.reference === null) out.push("no backend gave token ids: nothing to compare against");
  else if (compared === 0) out.push(`only ${report.reference} gave token ids: nothing to compare it with (the traps below still apply)`);
  else out.push(`${report.agreeing} of ${report.prompts} prompts (${fmtShare(report.share)}) get the same tokens from every backend (reference: ${report.reference})`);
  const byBackend = new Map<string, Mismatch[]>();
  for (const m of report.mismatches) byBackend.set(m.backend, [...(byBackend.get(m.backend) ?? []), m]);
  for (const [backend, list] of byBackend) {
    out.push("");
    out.push(`${backend}: ${list.length} mismatch${list.length === 1 ? "" : "es"}${list.length > show ? ` (the first ${show})` : ""}`);
    const w = Math.max(backend.length, report.reference?.length ?? 0);
    for (const m of list.slice(0, show)) {
      const variant = report.suite.variants.length > 1 ? ` [${m.variant}]` : "";
      if (m.error) {
        out.push(`  ${m.taskId}${variant}: failed: ${m.error}`);
        continue;
      }
      if (m.mode === "count") {
        out.push(`  ${m.taskId}${variant}: ${m.candidateCount} prompt tokens reported, ${m.reference.length} from ${m.reference.backend}`);
        out.push(viewLine(m.reference, null, w));
        continue;
      }
      out.push(`  ${m.taskId}${variant}: first difference at position ${m.position}${describeEdit(m.edit, vocab)}`);
      out.push(viewLine(m.reference, m.position ?? null, w));
      if (m.candidate) out.push(viewLine(m.candidate, m.position ?? null, w));
    }
  }
  if (report.traps.length > 0) {
    out.push("");
    for (const t of report.traps) out.push(`${t.severity === "warning" ? "warning" : "note"}: ${t.code}: ${t.message}`);
  }
  out.push("");
  if (!report.ok) out.push("not ok: see the mismatches, failures and warnings above");
  else out.push(compared === 0 ? "ok: no tokenizer trap was found (no second backend to compare with)" : "ok: the backends agree and no tokenizer trap was found");
  return out.join("\n");
}
