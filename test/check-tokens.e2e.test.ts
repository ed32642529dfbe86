import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getEngine } from "../src/backends/llama-engine.js";
import { checkTokens, tokenizerFromMetadata, type PromptToCheck, type TokenSource } from "../src/check/token-sources.js";
import {
  compareCount,
  compareIds,
  exitCodeOf,
  formatTokensReport,
  observeBackend,
  tokenizerTraps,
  type BackendObservation,
  type TokenizerFacts,
  type TrapInput,
  type Vocabulary,
} from "../src/check/tokens.js";
import { startOllamaContractServer, TINY, type ContractServer } from "./fixtures/ollama-server.js";
import { ROOT, SHARED_MODELS, copySuite, heldout, tempDir } from "./helpers/cli.js";
import { llamaToolsBin, startLlamaServer, type RunningServer } from "./helpers/llama-server.js";

/**
 * `heldout check tokens`: the pure comparison and trap rules, then real node-llama-cpp and a real
 * llama-server on the demo suites, a planted candidate that tokenizes as node-llama-cpp's
 * LlamaCompletion does (no leading-space token), and the server backends (a llama-server through
 * the OpenAI-compatible backend; Ollama's prompt_eval_count against the loopback contract server).
 */

const ARITH = join(ROOT, "models/arith-step600.yaml");
const STORIES = join(ROOT, "models/stories260k.yaml");
const STORIES_CHAT = join(ROOT, "models/stories260k-chat.yaml");
const PROFILE = join(ROOT, "profiles/default.yaml");
const dir = tempDir("heldout-check-tokens-");

// ---------------------------------------------------------------------------------------------
// Pure parts

const SPM: TokenizerFacts = { model: "llama", pre: null, bosId: 1, eosId: 2, bosText: "<s>", addBos: null, addSpacePrefix: null, chatTemplate: null, vocabularySize: 6 };
// A toy vocabulary: 0 <unk>, 1 <s> (control), 2 </s> (control), 3 ▁, 4 9, 5 ▁Once
const VOCAB: Vocabulary = { pieces: ["<unk>", "<s>", "</s>", "\u2581", "9", "\u2581Once"], types: [2, 3, 3, 1, 1, 1] };

function observation(extra: Partial<BackendObservation> = {}): BackendObservation {
  return { backend: "b", chatTemplate: null, prompts: 10, startsWithBos: 10, doubleBos: 0, textFirst: 10, noLeadingSpace: 0, noLeadingSpaceExample: null, ...extra };
}

function traps(extra: Partial<TrapInput> = {}) {
  return tokenizerTraps({ facts: SPM, suiteChatTemplate: "never", suiteFile: "tasks/x/suite.yaml", backends: [observation()], ...extra });
}

describe("comparing token sequences (pure)", () => {
  it("agrees on equal sequences", () => {
    expect(compareIds([1, 410, 483], [1, 410, 483])).toEqual({ agree: true });
    expect(compareIds([], [])).toEqual({ agree: true });
  });

  it("finds the first differing position and names a dropped, inserted or replaced token", () => {
    expect(compareIds([1, 410, 483, 475], [1, 483, 475])).toEqual({ agree: false, position: 1, edit: { type: "dropped", id: 410 } });
    expect(compareIds([1, 410, 483], [1, 1, 410, 483])).toEqual({ agree: false, position: 1, edit: { type: "inserted", id: 1 } });
    expect(compareIds([1, 403, 407], [1, 500, 407])).toEqual({ agree: false, position: 1, edit: { type: "replaced", from: 403, to: 500 } });
    expect(compareIds([410, 483], [1, 410, 483])).toEqual({ agree: false, position: 0, edit: { type: "inserted", id: 1 } });
  });

  it("reports a prefix at the shorter length, and no edit when the difference is not one token", () => {
    expect(compareIds([1, 2, 3], [1, 2, 3, 4, 5])).toEqual({ agree: false, position: 3, edit: null });
    expect(compareIds([1, 2, 3, 4], [1, 9, 8, 4])).toEqual({ agree: false, position: 1, edit: null });
    expect(compareIds([1, 2, 3], [1, 2])).toEqual({ agree: false, position: 2, edit: { type: "dropped", id: 3 } });
  });

  it("compares a reported count with the reference's length", () => {
    expect(compareCount([1, 2, 3], 3)).toEqual({ agree: true, count: 3 });
    expect(compareCount([1, 2, 3], 2)).toEqual({ agree: false, reference: 3, candidate: 2, delta: -1 });
  });

  it("summarises what a backend fed: BOS, doubled BOS, the leading space", () => {
    const o = observeBackend(
      "x",
      null,
      [
        { key: "a", ids: [1, 3, 4] },
        { key: "b", ids: [1, 1, 5] },
        { key: "c", ids: [4] },
        { key: "d", ids: [1, 4] },
      ],
      SPM,
      VOCAB,
    );
    expect(o).toMatchObject({ prompts: 4, startsWithBos: 3, doubleBos: 1, textFirst: 3, noLeadingSpace: 2, noLeadingSpaceExample: "c" });
    // A control token after BOS is not text; a chat template's own text is not checked for the space.
    expect(observeBackend("x", null, [{ key: "a", ids: [1, 2, 4] }], SPM, VOCAB).textFirst).toBe(0);
    expect(observeBackend("x", "JinjaTemplate", [{ key: "a", ids: [1, 4] }], SPM, VOCAB).noLeadingSpace).toBe(0);
  });

  it("reads the facts from GGUF tokenizer metadata", () => {
    const { facts, vocab } = tokenizerFromMetadata({
      ggml: { model: "gpt2", pre: "", tokens: ["a", "<|begin|>"], token_type: [1, 3], bos_token_id: 1, eos_token_id: 0, add_bos_token: true },
      chat_template: "{{ bos_token }}{{ messages }}",
    });
    expect(facts).toEqual({ model: "gpt2", pre: null, bosId: 1, eosId: 0, bosText: "<|begin|>", addBos: true, addSpacePrefix: null, chatTemplate: "{{ bos_token }}{{ messages }}", vocabularySize: 2 });
    expect(vocab.types).toEqual([1, 3]);
  });
});

describe("tokenizer traps (pure rules)", () => {
  const codes = (list: { code: string }[]) => list.map((t) => t.code);

  it("finds none on a SentencePiece model fed as llama.cpp feeds it", () => {
    expect(traps()).toEqual([]);
  });

  it("missing pre-tokenizer: only for BPE vocabularies, where llama.cpp uses one", () => {
    const bpe = { ...SPM, model: "gpt2", addBos: true, addSpacePrefix: false };
    expect(codes(traps({ facts: bpe }))).toEqual(["missing-pre-tokenizer"]);
    expect(codes(traps({ facts: { ...bpe, pre: "llama-bpe" } }))).toEqual([]);
    expect(codes(traps({ facts: { ...SPM, pre: null } }))).toEqual([]);
  });

  it("a chat template present but not applied, or applied without one", () => {
    const chat = { ...SPM, chatTemplate: "{% for m in messages %}{{ m.content }}{% endfor %}" };
    const notApplied = traps({ facts: chat, suiteChatTemplate: "never" });
    expect(codes(notApplied)).toEqual(["chat-template-not-applied"]);
    expect(notApplied[0]?.message).toContain("tasks/x/suite.yaml");
    expect(codes(traps({ facts: chat, suiteChatTemplate: "auto", backends: [observation({ chatTemplate: "JinjaTemplate" })] }))).toEqual([]);
    expect(codes(traps({ facts: SPM, suiteChatTemplate: "always", backends: [observation({ chatTemplate: "ChatMLChatWrapper" })] }))).toEqual(["chat-template-missing"]);
  });

  it("one backend applies the chat template and another sends plain text", () => {
    const chat = { ...SPM, chatTemplate: "{% for m in messages %}{{ m.content }}{% endfor %}" };
    const list = traps({ facts: chat, suiteChatTemplate: "auto", backends: [observation({ backend: "llama", chatTemplate: "JinjaTemplate" }), observation({ backend: "llama-server", chatTemplate: null })] });
    expect(codes(list)).toEqual(["chat-template-differs"]);
    expect(list[0]?.message).toMatch(/llama applies a chat template \(JinjaTemplate\); llama-server sends the plain text/);
  });

  it("BOS doubled by a template that writes it, BOS missing, BOS added", () => {
    const chat = { ...SPM, chatTemplate: "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}" };
    const doubled = traps({ facts: chat, suiteChatTemplate: "auto", backends: [observation({ backend: "naive", chatTemplate: "jinja", doubleBos: 10 })] });
    expect(codes(doubled)).toEqual(["bos-doubled"]);
    expect(doubled[0]?.message).toMatch(/naive feeds BOS twice in 10 of 10 prompts \(the chat template writes BOS itself/);
    // The same template, handled (one BOS): a note only, which does not fail the check.
    const handled = traps({ facts: chat, suiteChatTemplate: "auto", backends: [observation({ chatTemplate: "JinjaTemplate" })] });
    expect(handled.map((t) => [t.code, t.severity])).toEqual([["template-writes-bos", "note"]]);
    expect(codes(traps({ backends: [observation({ backend: "nobos", startsWithBos: 3 })] }))).toEqual(["bos-missing"]);
    expect(traps({ backends: [observation({ backend: "nobos", startsWithBos: 3 })] })[0]?.message).toMatch(/nobos feeds no BOS in 7 of 10 prompts, though the model adds one \(add_bos_token not set; the default for llama\)/);
    expect(codes(traps({ facts: { ...SPM, addBos: false } }))).toEqual(["bos-added"]);
    expect(codes(traps({ facts: { ...SPM, addBos: false }, backends: [observation({ startsWithBos: 0 })] }))).toEqual([]);
  });

  it("the leading-space token missing, as node-llama-cpp's LlamaCompletion feeds it", () => {
    const list = traps({ backends: [observation({ backend: "completion", noLeadingSpace: 10, noLeadingSpaceExample: "add-001" })] });
    expect(codes(list)).toEqual(["leading-space-missing"]);
    expect(list[0]?.message).toMatch(/completion starts 10 of 10 prompts without SentencePiece's leading space \(first: add-001\)/);
    // A vocabulary without the space prefix (add_space_prefix false, or BPE) has no such trap.
    expect(codes(traps({ facts: { ...SPM, addSpacePrefix: false }, backends: [observation({ noLeadingSpace: 10 })] }))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Real backends

/** A candidate that tokenizes as node-llama-cpp's LlamaCompletion.generateCompletion(text) does: BOS, then the text without the leading space. */
async function completionStyleSource(modelPath: string): Promise<TokenSource & { model: LlamaModel }> {
  const { llama } = await getEngine({ binary: "auto", gpu: "auto" }, modelPath);
  const model = await llama.loadModel({ modelPath, vocabOnly: true });
  return {
    name: "completion",
    model,
    async tokenize(prompts: readonly PromptToCheck[]) {
      return prompts.map((p) => ({ ids: [Number(model.tokens.bos), ...model.tokenize(p.text, false, "trimLeadingSpace").map(Number)], chatTemplate: null }));
    },
    close: () => model.dispose(),
  };
}

beforeAll(() => {
  llamaToolsBin(); // builds llama-server if this machine has none yet
}, 900_000);

describe("node-llama-cpp and llama-server on the demo suites", () => {
  it("agree on every prompt of tasks/arith on arith-step600 (CLI)", () => {
    const r = heldout(["check", "tokens", "--suite", "tasks/arith", "--model", "models/arith-step600.yaml", "--backends", "llama,llama-server"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^llama +ids +1000 +1000 +reference +none$/m);
    expect(r.stdout).toMatch(/^llama-server +ids +1000 +1000 +1\.000 +none$/m);
    expect(r.stdout).toContain("1000 of 1000 prompts (1.000) get the same tokens from every backend (reference: llama)");
    expect(r.stdout).toContain("tokenizer: llama (SentencePiece), pre-tokenizer none, BOS 1");
    expect(r.stdout).toContain("ok: the backends agree and no tokenizer trap was found");
  });

  it("agree on every prompt of tasks/tinystories on stories260k (JSON)", () => {
    const r = heldout(["check", "tokens", "--suite", "tasks/tinystories", "--model", "models/stories260k.yaml", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Awaited<ReturnType<typeof checkTokens>>["report"];
    expect(report.backends.map((b) => [b.backend, b.mode, b.prompts, b.agree])).toEqual([
      ["llama", "ids", 40, 40],
      ["llama-server", "ids", 40, 40],
    ]);
    expect(report).toMatchObject({ agreeing: 40, prompts: 40, share: 1, mismatches: [], traps: [], ok: true });
    expect(report.facts).toMatchObject({ model: "llama", bosId: 1, eosId: 2, chatTemplate: null });
  });

  it("a planted LlamaCompletion-style backend is reported with the position and both sequences (arith)", async () => {
    const planted = await completionStyleSource(join(SHARED_MODELS, "arith/arith-step600.gguf"));
    const { report, vocab } = await checkTokens({ suiteDir: join(ROOT, "tasks/arith"), modelFiles: [ARITH], profileFile: PROFILE, backends: ["llama"], extraSources: [planted] });
    expect(report.backends.map((b) => [b.backend, b.agree, b.prompts])).toEqual([
      ["llama", 1000, 1000],
      ["completion", 0, 1000],
    ]);
    expect(report.agreeing).toBe(0);
    expect(report.ok).toBe(false);
    expect(exitCodeOf(report)).toBe(1);
    const first = report.mismatches.find((m) => m.taskId === "sub-001");
    expect(first).toMatchObject({ backend: "completion", mode: "ids", position: 1, edit: { type: "dropped", id: 410 } });
    expect(first?.reference.ids.slice(0, 3)).toEqual([1, 410, first?.candidate?.ids[1]]);
    expect(first?.reference.pieces.slice(0, 2)).toEqual(["<s>", "\u2581"]);
    expect(first?.candidate?.pieces[1]).not.toBe("\u2581");
    expect(report.traps.map((t) => [t.code, t.backend])).toEqual([["leading-space-missing", "completion"]]);
    const text = formatTokensReport(report, vocab, 2);
    expect(text).toContain("completion: 1000 mismatches (the first 2)");
    expect(text).toMatch(/: first difference at position 1: drops 410 "▁"/);
    // Both sequences, the differing token in brackets, and each detokenized.
    expect(text).toMatch(/^ {4}llama +\d+ tokens: <s>\|\[▁\]\|/m);
    expect(text).toMatch(/^ {4}completion +\d+ tokens: <s>\|\[\d\]\|/m);
    expect(text).toMatch(/"<s> \d+\+\d+="/);
    expect(text).toMatch(/"<s>\d+\+\d+="/);
    expect(text).toContain("warning: leading-space-missing: completion starts 1000 of 1000 prompts without SentencePiece's leading space (first: add-001)");
  });

  it("a planted LlamaCompletion-style backend on tinystories: the first word's token replaced", async () => {
    const planted = await completionStyleSource(join(SHARED_MODELS, "stories260K.gguf"));
    const { report } = await checkTokens({ suiteDir: join(ROOT, "tasks/tinystories"), modelFiles: [STORIES], profileFile: PROFILE, backends: ["llama", "llama-server"], extraSources: [planted] });
    expect(report.backends.map((b) => [b.backend, b.agree])).toEqual([
      ["llama", 40],
      ["llama-server", 40],
      ["completion", 0],
    ]);
    const names01 = report.mismatches.find((m) => m.taskId === "names-01");
    // "Once upon ..." is ▁Once for llama.cpp; LlamaCompletion feeds "Once" without its space.
    expect(names01).toMatchObject({ position: 1, reference: { pieces: expect.arrayContaining(["\u2581Once"]) as unknown } });
    expect(names01?.candidate?.text).toBe("<s>Once upon a time, there was a little girl named");
    expect(names01?.reference.text).toBe("<s> Once upon a time, there was a little girl named");
  });
});

describe("tokenizer traps on real GGUFs", () => {
  it("a chat template present but not applied (stories260k-chat, chatTemplate: never): exit 1", () => {
    const r = heldout(["check", "tokens", "--suite", "tasks/tinystories", "--model", "models/stories260k-chat.yaml"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain("40 of 40 prompts (1.000) get the same tokens");
    expect(r.stdout).toContain("warning: chat-template-not-applied: the GGUF has a chat template but tasks/tinystories/suite.yaml sets chatTemplate: never");
    expect(r.stdout).toContain("note: template-writes-bos");
  });

  it("applied by node-llama-cpp, not by the llama-server engine; llama.cpp's own rendering compared too", async () => {
    const suite = copySuite("tinystories");
    writeFileSync(join(suite, "suite.yaml"), readSuite(suite).replace("chatTemplate: never", "chatTemplate: auto"));
    const { report } = await checkTokens({ suiteDir: suite, modelFiles: [STORIES_CHAT], profileFile: PROFILE, backends: ["llama", "llama-server", "llama-server-chat"] });
    const byName = new Map(report.backends.map((b) => [b.backend, b]));
    expect(byName.get("llama")?.chatTemplate).toBe("JinjaTemplate");
    expect(byName.get("llama-server")?.chatTemplate).toBeNull();
    expect(byName.get("llama-server-chat")?.chatTemplate).toBe("llama-server");
    expect(byName.get("llama-server")?.agree).toBe(0);
    expect(report.traps.find((t) => t.code === "chat-template-differs")?.message).toMatch(/llama-server sends the plain text/);
    // The template writes {{ bos_token }} and the model adds BOS: neither engine doubles it.
    expect(report.traps.some((t) => t.code === "bos-doubled")).toBe(false);
    const chat = report.mismatches.find((m) => m.backend === "llama-server-chat" && m.taskId === "names-01");
    if (chat) expect(chat.candidate?.ids.slice(0, 2)).toEqual([1, 410]);
    expect(exitCodeOf(report)).toBe(1);
  });
});

describe("servers", () => {
  let server: RunningServer | undefined;
  let ollama: ContractServer | undefined;
  afterAll(async () => {
    await server?.stop();
    await ollama?.close();
  });

  it("a llama-server through the OpenAI-compatible backend (its /tokenize) agrees with node-llama-cpp", async () => {
    server = await startLlamaServer(join(SHARED_MODELS, "stories260K.gguf"), "stories260k");
    const manifest = join(dir, "served.yaml");
    writeFileSync(manifest, `id: served\nbackend: openai\nserver:\n  endpoints: [${server.url}]\n  model: stories260k\n`);
    const { report } = await checkTokens({ suiteDir: join(ROOT, "tasks/tinystories"), modelFiles: [STORIES, manifest], profileFile: PROFILE, backends: ["llama", "openai"] });
    expect(report.backends.map((b) => [b.backend, b.mode, b.agree])).toEqual([
      ["llama", "ids", 40],
      ["openai:served", "ids", 40],
    ]);
    expect(report.ok).toBe(true);
  });

  it("Ollama (no tokenizer): compared by prompt_eval_count, a one-token raw generation per prompt (contract server)", async () => {
    // The contract server counts a prompt's words as its tokens, so the counts differ from the
    // real tokenizer's: this checks the plumbing and the count-only report, not Ollama's tokenizer.
    ollama = await startOllamaContractServer();
    const manifest = join(dir, "tiny-ollama.yaml");
    writeFileSync(manifest, `id: tiny\nbackend: ollama\nserver:\n  endpoints: [${ollama.url}]\n  model: ${TINY.name}\n  warmUp: false\n`);
    const { report, vocab } = await checkTokens({ suiteDir: join(ROOT, "tasks/tinystories"), modelFiles: [STORIES, manifest], profileFile: PROFILE, backends: ["llama", "ollama"] });
    const generate = ollama.requests.filter((r) => r.path === "/api/generate");
    expect(generate).toHaveLength(40);
    expect(generate.every((r) => r.body?.raw === true && (r.body?.options as { num_predict?: number }).num_predict === 1)).toBe(true);
    const row = report.backends.find((b) => b.backend === "ollama:tiny");
    expect(row).toMatchObject({ mode: "count", prompts: 40, agree: 0 });
    const m = report.mismatches.find((x) => x.taskId === "names-01");
    expect(m).toMatchObject({ mode: "count", candidateCount: 10, reference: { length: 14 } });
    expect(formatTokensReport(report, vocab)).toContain("names-01: 10 prompt tokens reported, 14 from llama");
  });
});

describe("bad input (exit 2)", () => {
  it("an unknown backend, a backend without its model, two GGUFs, no --model", () => {
    const cases: [string[], RegExp][] = [
      [["--model", "models/arith-step600.yaml", "--backends", "llama,vllm"], /unknown backend "vllm"/],
      [["--model", "models/arith-step600.yaml", "--backends", "llama,ollama"], /backend ollama needs a --model manifest with backend: ollama/],
      [["--model", "models/arith-step600.yaml", "--backends", "llama-server-chat"], /applies no chat template/],
      [["--model", "models/arith-step600.yaml", "--model", "models/arith-step300.yaml"], /takes one GGUF model/],
      [[], /needs --model/],
    ];
    for (const [args, message] of cases) {
      const r = heldout(["check", "tokens", "--suite", "tasks/arith", ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

function readSuite(suiteDir: string): string {
  return readFileSync(join(suiteDir, "suite.yaml"), "utf8");
}
