/**
 * Scrubbing personal data and secrets out of imported text into typed placeholders. Pure.
 *
 * Each distinct value gets one placeholder per kind, numbered in order of first appearance over
 * the whole import (`<EMAIL_1>`, `<EMAIL_2>`, …): the same address twice is `<EMAIL_1>` both
 * times, so a task that refers back to it still reads right. Rules run in a fixed order, each on
 * the text the previous ones left (keys before e-mail addresses before IPs before phone numbers
 * before long numbers), so a key's digits never count as a number and a placeholder is never
 * matched again.
 *
 * The rules and what they miss are listed in README.md ("Importing your own traffic").
 */

export const SCRUB_KINDS = ["EMAIL", "PHONE", "IP", "KEY", "NUMBER"] as const;
export type ScrubKind = (typeof SCRUB_KINDS)[number];

interface Rule {
  kind: ScrubKind;
  name: string;
  pattern: RegExp;
  /** A further check of a match (its text, the whole text and the match's offset). */
  accept?: (match: string, text: string, offset: number) => boolean;
}

const hasDigit = (s: string) => /\d/.test(s);
const hasUpper = (s: string) => /[A-Z]/.test(s);
const hasLower = (s: string) => /[a-z]/.test(s);
const digitCount = (s: string) => s.replace(/\D/g, "").length;

/** The Luhn checksum every payment card number satisfies (and a list of years almost never does). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";

function isIpv6(s: string): boolean {
  if (s.includes(":::")) return false;
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const groups = halves.flatMap(groupsOf);
  if (!groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  if (halves.length === 1) return groups.length === 8;
  // Compressed: at most 7 groups, and enough of an address that "a::b" or "std::max"-like text is left alone.
  return groups.length >= 2 && groups.length <= 7 && groups.some((g) => g.length >= 3);
}

/** "version 1.2.3.4", "v1.2.3.4", "Chrome/120.0.0.0": four-part versions that look like IPv4 addresses. */
function looksLikeVersion(text: string, offset: number): boolean {
  const before = text.slice(Math.max(0, offset - 12), offset);
  return /(?:\bv|\bver\.?|\bversion|\brelease|\bbuild)\s*$/i.test(before) || /[A-Za-z]\/$/.test(before);
}

/**
 * The rules, in the order they run. Lookbehinds keep what names a secret (`Bearer `, `api_key=`)
 * and replace only the secret itself.
 */
export const SCRUB_RULES: readonly Rule[] = [
  { kind: "KEY", name: "private key block", pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g },
  { kind: "KEY", name: "JSON Web Token", pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}/g },
  {
    kind: "KEY",
    name: "vendor key prefix",
    pattern:
      /(?<![A-Za-z0-9_-])(?:sk-(?:proj-|ant-|live-|svcacct-)?[A-Za-z0-9_-]{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})(?![A-Za-z0-9_-])/g,
  },
  { kind: "KEY", name: "Bearer token", pattern: /(?<=\b[Bb]earer\s+)[A-Za-z0-9._~+/-]{16,}=*/g, accept: (m) => hasDigit(m) && /[A-Za-z]/.test(m) },
  {
    kind: "KEY",
    name: "secret assignment",
    pattern: /(?<=\b(?:api[_-]?key|access[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret|token|password|passwd|pwd)["']?\s*[:=]\s*["']?)[^\s"',;<>]{8,}/gi,
    // A value of only lower-case letters is a word ("token: required"), not a secret.
    accept: (m) => !/^[a-z]+$/.test(m),
  },
  { kind: "KEY", name: "long hex secret", pattern: /(?<![A-Za-z0-9_])[0-9a-fA-F]{32,}(?![A-Za-z0-9_])/g, accept: (m) => hasDigit(m) && /[a-fA-F]/.test(m) },
  {
    kind: "KEY",
    name: "long base64 secret",
    pattern: /(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{32,}={0,2}(?![A-Za-z0-9+/_=-])/g,
    // Random text mixes cases and digits; a path ("src/components/Button2Component") has many slashes.
    accept: (m) => hasDigit(m) && hasUpper(m) && hasLower(m) && (m.match(/\//g)?.length ?? 0) <= m.length / 16,
  },
  { kind: "EMAIL", name: "e-mail address", pattern: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![A-Za-z0-9-])/g },
  {
    kind: "IP",
    name: "IPv4 address",
    pattern: new RegExp(`(?<![\\w.])(?:${OCTET}\\.){3}${OCTET}(?![\\w]|\\.\\d)`, "g"),
    accept: (_m, text, offset) => !looksLikeVersion(text, offset),
  },
  { kind: "IP", name: "IPv6 address", pattern: /(?<![\w:.])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:)[0-9A-Fa-f:]{4,39}(?![\w:])/g, accept: (m) => isIpv6(m) },
  {
    kind: "PHONE",
    name: "international phone number",
    pattern: /(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w])/g,
    accept: (m) => digitCount(m) >= 8 && digitCount(m) <= 15,
  },
  { kind: "PHONE", name: "North American phone number", pattern: /(?<![\w+.-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w]|[.-]\d)/g },
  { kind: "NUMBER", name: "IBAN", pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g, accept: (m) => digitCount(m) >= 10 },
  {
    kind: "NUMBER",
    name: "card number in groups",
    pattern: /(?<![\w-])(?:\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{4,5})(?![\w-])/g,
    accept: (m) => luhnValid(m.replace(/\D/g, "")),
  },
  {
    kind: "NUMBER",
    name: "long digit string",
    pattern: /(?<![\w.])\d{9,}(?![\w])/g,
    // The last group of a UUID (550e8400-e29b-41d4-a716-446655440000) is an identifier's tail, not a number.
    accept: (_m, text, offset) => !/[0-9A-Fa-f]{4}-$/.test(text.slice(Math.max(0, offset - 5), offset)),
  },
];

export interface ScrubStats {
  /** Occurrences replaced, per kind. */
  replaced: Record<ScrubKind, number>;
  /** Distinct values replaced, per kind. */
  distinct: Record<ScrubKind, number>;
}

export function emptyCounts(): Record<ScrubKind, number> {
  return { EMAIL: 0, PHONE: 0, IP: 0, KEY: 0, NUMBER: 0 };
}

/**
 * One scrubber for a whole import, so placeholders are numbered across items. `kinds` chooses
 * which kinds are replaced (all by default).
 */
export class Scrubber {
  private readonly values = new Map<ScrubKind, Map<string, number>>();
  private readonly rules: readonly Rule[];
  readonly replaced = emptyCounts();

  constructor(kinds: readonly ScrubKind[] = SCRUB_KINDS) {
    this.rules = SCRUB_RULES.filter((r) => kinds.includes(r.kind));
    for (const k of SCRUB_KINDS) this.values.set(k, new Map());
  }

  /** The text with every match replaced; `counts`, when given, gets this text's replacements added. */
  scrub(text: string, counts?: Record<ScrubKind, number>): string {
    let out = text;
    for (const rule of this.rules) {
      out = out.replace(rule.pattern, (match: string, ...rest: unknown[]) => {
        // replace() passes (match, ...groups, offset, whole); there are no capturing groups here.
        const offset = rest[rest.length - 2] as number;
        const whole = rest[rest.length - 1] as string;
        if (rule.accept && !rule.accept(match, whole, offset)) return match;
        this.replaced[rule.kind]++;
        if (counts) counts[rule.kind]++;
        return this.placeholder(rule.kind, match);
      });
    }
    return out;
  }

  private placeholder(kind: ScrubKind, value: string): string {
    const seen = this.values.get(kind) as Map<string, number>;
    let n = seen.get(value);
    if (n === undefined) {
      n = seen.size + 1;
      seen.set(value, n);
    }
    return `<${kind}_${n}>`;
  }

  stats(): ScrubStats {
    const distinct = emptyCounts();
    for (const k of SCRUB_KINDS) distinct[k] = this.values.get(k)?.size ?? 0;
    return { replaced: { ...this.replaced }, distinct };
  }
}

/** `email,ip` → the kinds; throws RangeError naming an unknown one. */
export function parseScrubKinds(text: string): ScrubKind[] {
  const kinds: ScrubKind[] = [];
  for (const part of text.split(",")) {
    const k = part.trim().toUpperCase();
    if (k === "") continue;
    if (k === "ALL") return [...SCRUB_KINDS];
    if (!(SCRUB_KINDS as readonly string[]).includes(k)) throw new RangeError(`unknown scrub kind "${part.trim()}"; known: ${SCRUB_KINDS.map((s) => s.toLowerCase()).join(", ")}`);
    if (!kinds.includes(k as ScrubKind)) kinds.push(k as ScrubKind);
  }
  return kinds;
}
