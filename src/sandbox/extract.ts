/**
 * The pure half of the code-execution scorer: which code in a model's output is run, and how a
 * task's tests are named. No I/O.
 *
 * Extraction rules (README "Code execution"):
 *   1. the first fenced block (``` or ~~~, at most 3 spaces of indent) whose info string names the
 *      language (python: python, py, python3; javascript: javascript, js, node, mjs, cjs);
 *   2. else the first fenced block, whatever its info string;
 *   3. else the whole output.
 * A fence left open (the generation hit its token limit) runs to the end of the output. The code is
 * returned as written, without its fence lines.
 */

export type Language = "python" | "javascript";

export const LANGUAGES: readonly Language[] = ["python", "javascript"];

export function isLanguage(value: unknown): value is Language {
  return typeof value === "string" && (LANGUAGES as readonly string[]).includes(value);
}

/** Info-string words that mark a fenced block as written in each language (compared lowercased). */
export const LANGUAGE_TAGS: Readonly<Record<Language, readonly string[]>> = {
  python: ["python", "py", "python3"],
  javascript: ["javascript", "js", "node", "mjs", "cjs"],
};

export interface Extracted {
  code: string;
  /** Where the code came from, for the score's reason. */
  from: "tagged block" | "first block" | "whole output";
}

interface Block {
  tag: string;
  code: string;
}

const OPEN = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/;

/** Every fenced block in order. A fence is closed by a line of at least as many of the same character. */
export function fencedBlocks(text: string): Block[] {
  const lines = text.split(/\r?\n/);
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = OPEN.exec(lines[i] ?? "");
    if (!open) continue;
    const fence = open[1] ?? "```";
    const tag = (open[2] ?? "").toLowerCase();
    // A backtick fence's info string may not contain backticks (CommonMark): "```js``` inline" is not a fence.
    if (fence.startsWith("`") && (lines[i] ?? "").slice((lines[i] ?? "").indexOf(fence) + fence.length).includes("`")) continue;
    const close = new RegExp(`^ {0,3}${fence[0] === "`" ? "`" : "~"}{${fence.length},}\\s*$`);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      if (close.test(lines[j] ?? "")) break;
      body.push(lines[j] ?? "");
    }
    blocks.push({ tag, code: body.join("\n") });
    i = j;
  }
  return blocks;
}

export function extractCode(output: string, language: Language): Extracted {
  const blocks = fencedBlocks(output);
  const tags = LANGUAGE_TAGS[language];
  const tagged = blocks.find((b) => tags.includes(b.tag));
  if (tagged) return { code: tagged.code, from: "tagged block" };
  const first = blocks[0];
  if (first) return { code: first.code, from: "first block" };
  return { code: output, from: "whole output" };
}

/** One test as the harness runs it. */
export interface TestCase {
  name: string;
  code: string;
}

const MAX_NAME = 60;

/**
 * Names tests. A test given as `{name, code}` keeps its name; a string test is named by its leading
 * comment line when it starts with one (`# adds negatives` / `// adds negatives`), else by its
 * first line of code, prefixed with its 1-based number: `#2 assert add(-1, 1) == 0`.
 */
export function normalizeTests(tests: readonly (string | TestCase)[], language: Language): TestCase[] {
  const comment = language === "python" ? /^\s*#\s?(.*)$/ : /^\s*\/\/\s?(.*)$/;
  return tests.map((t, i) => {
    if (typeof t !== "string") return { name: t.name, code: t.code };
    const lines = t.split(/\r?\n/);
    const firstCode = lines.find((l) => l.trim() !== "" && !comment.test(l))?.trim() ?? "";
    const label = comment.exec(lines.find((l) => l.trim() !== "") ?? "")?.[1]?.trim();
    const name = label && label !== "" ? label : `#${i + 1} ${firstCode}`;
    return { name: name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name, code: t };
  });
}

/** Reads a tests value from user JSON: a non-empty list of strings or of `{name, code}` objects. Undefined when malformed. */
export function parseTests(value: unknown): (string | TestCase)[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const out: (string | TestCase)[] = [];
  for (const t of value as unknown[]) {
    if (typeof t === "string" && t.trim() !== "") out.push(t);
    else if (typeof t === "object" && t !== null && !Array.isArray(t)) {
      const { name, code } = t as Record<string, unknown>;
      if (typeof name !== "string" || name.trim() === "" || typeof code !== "string" || code.trim() === "") return undefined;
      out.push({ name, code });
    } else return undefined;
  }
  return out;
}
