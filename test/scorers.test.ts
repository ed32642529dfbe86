import { describe, it, expect } from "vitest";
import { SCORER_TYPES, scoreOutput, validateScorer } from "../src/scorers/index.js";
import type { JsonValue, ScorerSpec } from "../src/core/types.js";

/** Field names of the problems, the part a caller uses to point at the mistake. */
const fields = (spec: ScorerSpec, hasExpected = true, expected?: JsonValue): string[] =>
  validateScorer(spec, hasExpected, expected).map((p) => p.field);

describe("SCORER_TYPES and unknown types", () => {
  it("lists every scorer, alias included", () => {
    expect([...SCORER_TYPES].sort()).toEqual(
      ["choice", "contains", "exact", "json", "judge", "normalised", "normalized", "numeric", "regex", "similarity", "leak", "injection", "refusal", "code", "likelihood"].sort(),
    );
  });

  it("every known type validates with a suitable spec", () => {
    const specs: Record<string, [ScorerSpec, JsonValue]> = {
      exact: [{ type: "exact" }, "x"],
      normalized: [{ type: "normalized" }, "x"],
      normalised: [{ type: "normalised" }, "x"],
      contains: [{ type: "contains" }, "x"],
      regex: [{ type: "regex", pattern: "x" }, "x"],
      numeric: [{ type: "numeric" }, 1],
      json: [{ type: "json" }, { a: 1 }],
      choice: [{ type: "choice", choices: ["A", "B"] }, "A"],
      judge: [{ type: "judge", model: "models/judge.yaml", rubric: "correct and complete" }, "x"],
      similarity: [{ type: "similarity", model: "models/embed.yaml", threshold: 0.8 }, "x"],
      likelihood: [{ type: "likelihood", choices: ["A", "B"], normalise: false }, "B"],
      code: [{ type: "code", language: "python" }, ["assert add(1, 2) == 3"]],
      leak: [{ type: "leak" }, "ZEBRA-4471"],
      injection: [{ type: "injection" }, "PWNED-7731"],
      refusal: [{ type: "refusal" }, "refuse"],
    };
    for (const type of SCORER_TYPES) {
      const entry = specs[type];
      expect(entry, type).toBeDefined();
      if (entry) expect(validateScorer(entry[0], true, entry[1]), type).toEqual([]);
    }
  });

  it("rejects an unknown type and lists the known ones", () => {
    const problems = validateScorer({ type: "fuzzy" }, true, "x");
    expect(problems).toHaveLength(1);
    expect(problems[0]?.field).toBe("type");
    expect(problems[0]?.message).toContain('unknown scorer "fuzzy"');
    expect(problems[0]?.message).toContain("known: exact, normalized");
  });

  it("does not treat Object.prototype names as scorers", () => {
    expect(fields({ type: "toString" })).toEqual(["type"]);
    expect(fields({ type: "__proto__" })).toEqual(["type"]);
  });

  it("rejects a missing or non-string type", () => {
    expect(fields({} as ScorerSpec)).toEqual(["type"]);
    expect(fields({ type: 3 } as unknown as ScorerSpec)).toEqual(["type"]);
  });

  it("scoring with an unknown type fails with a reason instead of throwing", () => {
    const score = scoreOutput({ type: "fuzzy" }, "x", "x");
    expect(score.pass).toBe(false);
    expect(score.value).toBe(0);
    expect(score.reason).toContain('unknown scorer "fuzzy"');
  });

  it("reports unknown options by name, with the allowed ones", () => {
    const problems = validateScorer({ type: "exact", trimm: true }, true, "x");
    expect(problems).toEqual([{ field: "trimm", message: expect.stringContaining("allowed: trim") }]);
    expect(validateScorer({ type: "normalized", trim: true }, true, "x")[0]?.message).toContain("takes no options");
  });

  it("reports options of the wrong type by name", () => {
    expect(validateScorer({ type: "exact", trim: "yes" }, true, "x")).toEqual([
      { field: "trim", message: 'option "trim" must be true or false, got string' },
    ]);
    expect(fields({ type: "contains", caseSensitive: 0 }, true, "x")).toEqual(["caseSensitive"]);
    expect(fields({ type: "numeric", tolerance: "0.1" }, true, 1)).toEqual(["tolerance"]);
    expect(fields({ type: "regex", pattern: 5 }, false)).toEqual(["pattern"]);
    expect(fields({ type: "json", schema: [] }, false)).toEqual(["schema"]);
    expect(fields({ type: "json", fields: "a" }, true, { a: 1 })).toEqual(["fields"]);
    expect(fields({ type: "choice", choices: ["A", 1] }, true, "A")).toEqual(["choices"]);
  });

  it("ignores options explicitly set to undefined", () => {
    expect(validateScorer({ type: "exact", trim: undefined }, true, "x")).toEqual([]);
  });

  it("reports every problem at once", () => {
    expect(fields({ type: "numeric", tolerance: -1, relTolerance: -2, colour: "red" }, false).sort()).toEqual(
      ["colour", "expected", "relTolerance", "tolerance"].sort(),
    );
  });

  it("scoring with an invalid spec fails and says why", () => {
    const score = scoreOutput({ type: "numeric", tolerance: "a lot" }, "5", 5);
    expect(score.pass).toBe(false);
    expect(score.reason).toContain("tolerance");
  });
});

describe("expected answer required", () => {
  const needsExpected: ScorerSpec[] = [
    { type: "exact" },
    { type: "normalized" },
    { type: "normalised" },
    { type: "contains" },
    { type: "numeric" },
    { type: "choice", choices: ["A", "B"] },
  ];
  for (const spec of needsExpected) {
    it(`${spec.type} reports a missing expected answer`, () => {
      expect(validateScorer(spec, false)).toEqual([
        { field: "expected", message: `${spec.type} scorer needs an expected answer` },
      ]);
      const score = scoreOutput(spec, "A", undefined);
      expect(score.pass).toBe(false);
      expect(score.reason).toContain("needs an expected answer");
    });
  }

  it("regex and json do not need one", () => {
    expect(validateScorer({ type: "regex", pattern: "\\d" }, false)).toEqual([]);
    expect(validateScorer({ type: "json" }, false)).toEqual([]);
  });
});

describe("exact", () => {
  const spec: ScorerSpec = { type: "exact" };

  it("passes on the same text, ignoring surrounding whitespace", () => {
    expect(scoreOutput(spec, "  54\n", "54")).toMatchObject({ pass: true, value: 1 });
  });

  it("compares numbers and booleans by their string form", () => {
    expect(scoreOutput(spec, "54", 54).pass).toBe(true);
    expect(scoreOutput(spec, "true", true).pass).toBe(true);
  });

  it("fails with the expected and actual text in the reason", () => {
    expect(scoreOutput(spec, "94", "54")).toEqual({ pass: false, value: 0, reason: 'expected "54", got "94"' });
  });

  it("is case and inner-whitespace sensitive", () => {
    expect(scoreOutput(spec, "paris", "Paris").pass).toBe(false);
    expect(scoreOutput(spec, "New  York", "New York").pass).toBe(false);
  });

  it("with trim: false, surrounding whitespace counts", () => {
    expect(scoreOutput({ type: "exact", trim: false }, " 54", "54").pass).toBe(false);
    expect(scoreOutput({ type: "exact", trim: false }, "54", "54").pass).toBe(true);
  });

  it("empty output fails unless the expected answer is empty", () => {
    expect(scoreOutput(spec, "", "54").reason).toBe('expected "54", got ""');
    expect(scoreOutput(spec, "   ", "").pass).toBe(true);
  });

  it("shortens very long outputs in the reason", () => {
    const reason = scoreOutput(spec, "x".repeat(5000), "y").reason;
    expect(reason.length).toBeLessThan(120);
    expect(reason).toContain("…");
  });

  it("rejects an object or list as expected", () => {
    expect(fields(spec, true, { a: 1 })).toEqual(["expected"]);
    expect(fields(spec, true, ["a"])).toEqual(["expected"]);
    expect(fields(spec, true, null)).toEqual(["expected"]);
  });
});

describe("normalized", () => {
  const spec: ScorerSpec = { type: "normalized" };

  it("ignores case, punctuation and spacing", () => {
    expect(scoreOutput(spec, "  The  Eiffel tower!\n", "the eiffel tower").pass).toBe(true);
    expect(scoreOutput(spec, "Don't stop.", "dont stop").pass).toBe(true);
  });

  it("the British spelling is an alias", () => {
    expect(scoreOutput({ type: "normalised" }, "PARIS.", "paris").pass).toBe(true);
  });

  it("folds Unicode compatibility forms and case", () => {
    expect(scoreOutput(spec, "ＡＢＣ　１２３", "abc 123").pass).toBe(true); // full-width letters and space
    expect(scoreOutput(spec, "ﬁne", "fine").pass).toBe(true); // ligature
    expect(scoreOutput(spec, "STRASSE", "straße").pass).toBe(true);
    expect(scoreOutput(spec, "«Ça va?»", "ça va").pass).toBe(true);
  });

  it("keeps accents and words distinct", () => {
    expect(scoreOutput(spec, "cafe", "café").pass).toBe(false);
    expect(scoreOutput(spec, "Paris, France", "Paris").pass).toBe(false);
  });

  it("fails with the normalized forms in the reason", () => {
    expect(scoreOutput(spec, "Lyon!", "Paris")).toEqual({
      pass: false,
      value: 0,
      reason: 'expected "paris", got "lyon" (after normalizing)',
    });
  });

  it("output of only punctuation normalizes to empty", () => {
    expect(scoreOutput(spec, "?!", "paris").pass).toBe(false);
  });

  it("rejects a non-scalar expected answer", () => {
    expect(fields(spec, true, { a: 1 })).toEqual(["expected"]);
  });
});

describe("contains", () => {
  const spec: ScorerSpec = { type: "contains" };

  it("passes when the expected text appears anywhere", () => {
    expect(scoreOutput(spec, "The capital is Paris, of course.", "Paris")).toMatchObject({ pass: true, value: 1 });
  });

  it("is case sensitive by default", () => {
    expect(scoreOutput(spec, "the capital is paris", "Paris")).toEqual({
      pass: false,
      value: 0,
      reason: 'missing "Paris"',
    });
  });

  it("caseSensitive: false ignores case, Unicode included", () => {
    const insensitive: ScorerSpec = { type: "contains", caseSensitive: false };
    expect(scoreOutput(insensitive, "the capital is PARIS", "Paris").pass).toBe(true);
    expect(scoreOutput(insensitive, "ÉCOLE", "école").pass).toBe(true);
  });

  it("a list of expected strings must all appear, with partial credit", () => {
    expect(scoreOutput(spec, "red, green and blue", ["red", "green", "blue"]).pass).toBe(true);
    const partial = scoreOutput(spec, "red and blue", ["red", "green", "blue", "pink"]);
    expect(partial.pass).toBe(false);
    expect(partial.value).toBe(0.5);
    expect(partial.reason).toBe('missing "green", "pink" (2 of 4 found)');
  });

  it("numbers in expected are matched as text", () => {
    expect(scoreOutput(spec, "there are 42 of them", 42).pass).toBe(true);
  });

  it("empty output fails", () => {
    expect(scoreOutput(spec, "", "x").pass).toBe(false);
  });

  it("rejects empty or non-text expected answers", () => {
    expect(fields(spec, true, "")).toEqual(["expected"]);
    expect(fields(spec, true, [])).toEqual(["expected"]);
    expect(fields(spec, true, ["a", ""])).toEqual(["expected"]);
    expect(fields(spec, true, ["a", { b: 1 }])).toEqual(["expected"]);
    expect(fields(spec, true, { a: 1 })).toEqual(["expected"]);
    expect(fields(spec, true, ["a", "b"])).toEqual([]);
  });
});

describe("regex", () => {
  it("without expected, any match passes", () => {
    const spec: ScorerSpec = { type: "regex", pattern: "^\\d{4}-\\d{2}-\\d{2}$" };
    expect(scoreOutput(spec, "2024-01-31", undefined)).toMatchObject({ pass: true, value: 1 });
    expect(scoreOutput(spec, "31/01/2024", undefined).reason).toBe("no match for /^\\d{4}-\\d{2}-\\d{2}$/");
  });

  it("with expected, the first capture group must equal it", () => {
    const spec: ScorerSpec = { type: "regex", pattern: "answer:\\s*(\\w+)" };
    expect(scoreOutput(spec, "work... answer: 42", "42").pass).toBe(true);
    expect(scoreOutput(spec, "work... answer: 41", 42)).toEqual({
      pass: false,
      value: 0,
      reason: 'expected "42", got "41"',
    });
  });

  it("with expected and no group, the whole match must equal it", () => {
    const spec: ScorerSpec = { type: "regex", pattern: "\\d+" };
    expect(scoreOutput(spec, "it is 7 days", "7").pass).toBe(true);
    expect(scoreOutput(spec, "it is 17 days", "7").pass).toBe(false);
  });

  it("ignores whitespace around the capture", () => {
    expect(scoreOutput({ type: "regex", pattern: "Answer:(.*)" }, "Answer:  Paris ", "Paris").pass).toBe(true);
  });

  it("a group that did not take part counts as empty", () => {
    const score = scoreOutput({ type: "regex", pattern: "(yes)|no" }, "no", "yes");
    expect(score).toMatchObject({ pass: false, reason: 'expected "yes", got ""' });
  });

  it("applies flags", () => {
    expect(scoreOutput({ type: "regex", pattern: "paris" }, "PARIS", undefined).pass).toBe(false);
    expect(scoreOutput({ type: "regex", pattern: "paris", flags: "i" }, "PARIS", undefined).pass).toBe(true);
    expect(scoreOutput({ type: "regex", pattern: "^b", flags: "m" }, "a\nb", undefined).pass).toBe(true);
  });

  it("a global flag does not carry state between outputs", () => {
    const spec: ScorerSpec = { type: "regex", pattern: "x", flags: "g" };
    expect(scoreOutput(spec, "x", undefined).pass).toBe(true);
    expect(scoreOutput(spec, "x", undefined).pass).toBe(true);
  });

  it("matches Unicode and empty output", () => {
    expect(scoreOutput({ type: "regex", pattern: "\\p{Script=Greek}+", flags: "u" }, "λόγος", undefined).pass).toBe(true);
    expect(scoreOutput({ type: "regex", pattern: "." }, "", undefined).pass).toBe(false);
  });

  it("reports a missing, empty or broken pattern", () => {
    expect(fields({ type: "regex" }, false)).toEqual(["pattern"]);
    expect(fields({ type: "regex", pattern: "" }, false)).toEqual(["pattern"]);
    const broken = validateScorer({ type: "regex", pattern: "(unclosed" }, false);
    expect(broken).toHaveLength(1);
    expect(broken[0]?.field).toBe("pattern");
    expect(broken[0]?.message).toContain("does not compile");
  });

  it("reports bad flags against flags, not the pattern", () => {
    expect(fields({ type: "regex", pattern: "a", flags: "q" }, false)).toEqual(["flags"]);
    expect(fields({ type: "regex", pattern: "a", flags: "ii" }, false)).toEqual(["flags"]);
    expect(validateScorer({ type: "regex", pattern: "a", flags: "q" }, false)[0]?.message).toContain("d, g, i, m, s, u, v, y");
  });

  it("a pattern that only fails with the u flag blames the flags", () => {
    expect(fields({ type: "regex", pattern: "\\-", flags: "u" }, false)).toEqual(["flags"]);
  });

  it("rejects a non-scalar expected answer", () => {
    expect(fields({ type: "regex", pattern: "a" }, true, ["a"])).toEqual(["expected"]);
  });

  it("scoring with a broken pattern fails instead of throwing", () => {
    const score = scoreOutput({ type: "regex", pattern: "[" }, "x", undefined);
    expect(score.pass).toBe(false);
    expect(score.reason).toContain("pattern");
  });
});

describe("numeric", () => {
  const spec: ScorerSpec = { type: "numeric" };

  it("takes the last number in the output", () => {
    expect(scoreOutput(spec, "3 apples plus 4 apples is 7", 7)).toEqual({
      pass: true,
      value: 1,
      reason: "extracted 7, expected 7",
    });
    expect(scoreOutput(spec, "7 is wrong, it is 8.", 7).reason).toBe("extracted 8, expected 7");
  });

  it("reads negatives, decimals, thousands separators and exponents", () => {
    expect(scoreOutput(spec, "The total is -12.75.", -12.75).pass).toBe(true);
    expect(scoreOutput(spec, "Total: $1,234,567.89", 1234567.89).pass).toBe(true);
    expect(scoreOutput(spec, "about 1e-3 m", 0.001).pass).toBe(true);
    expect(scoreOutput(spec, "6.02E+23", 6.02e23).pass).toBe(true);
    expect(scoreOutput(spec, "roughly .5", 0.5).pass).toBe(true);
    expect(scoreOutput(spec, "\\boxed{42}", 42).pass).toBe(true);
    expect(scoreOutput(spec, "50%", 50).pass).toBe(true);
  });

  it("reads the Unicode minus sign", () => {
    expect(scoreOutput(spec, "−5", -5).pass).toBe(true);
  });

  it("does not read a range or list as negative or joined numbers", () => {
    expect(scoreOutput(spec, "pages 3-5", 5).pass).toBe(true);
    expect(scoreOutput(spec, "1,2,3", 3).pass).toBe(true);
    expect(scoreOutput(spec, "x = 1,2345", 2345).pass).toBe(true);
  });

  it("accepts numeric strings as expected, thousands separators included", () => {
    expect(scoreOutput(spec, "1234.5", "1,234.5").pass).toBe(true);
    expect(scoreOutput(spec, "0.25", " 0.25 ").pass).toBe(true);
  });

  it("says when there is no number", () => {
    expect(scoreOutput(spec, "I don't know", 4)).toEqual({ pass: false, value: 0, reason: "no number in output, expected 4" });
    expect(scoreOutput(spec, "", 4).reason).toBe("no number in output, expected 4");
  });

  it("uses an absolute tolerance", () => {
    const tol: ScorerSpec = { type: "numeric", tolerance: 0.01 };
    expect(scoreOutput(tol, "12.005", 12).pass).toBe(true);
    expect(scoreOutput(tol, "12.5", 12)).toEqual({ pass: false, value: 0, reason: "extracted 12.5, expected 12 ± 0.01" });
  });

  it("tolerance boundaries are inclusive despite binary rounding", () => {
    expect(scoreOutput({ type: "numeric", tolerance: 0.1 }, "0.4", 0.3).pass).toBe(true);
    expect(scoreOutput({ type: "numeric", tolerance: 0.1 }, "0.41", 0.3).pass).toBe(false);
  });

  it("uses a relative tolerance, and the larger of the two", () => {
    const rel: ScorerSpec = { type: "numeric", relTolerance: 0.05 };
    expect(scoreOutput(rel, "104", 100).pass).toBe(true);
    expect(scoreOutput(rel, "106", 100).reason).toBe("extracted 106, expected 100 ± 5");
    const both: ScorerSpec = { type: "numeric", tolerance: 10, relTolerance: 0.05 };
    expect(scoreOutput(both, "109", 100).pass).toBe(true);
  });

  it("without tolerance, needs an exact value", () => {
    expect(scoreOutput(spec, "3.0001", 3).pass).toBe(false);
    expect(scoreOutput(spec, "3.000", 3).pass).toBe(true);
  });

  it("rejects a non-numeric expected answer", () => {
    expect(validateScorer(spec, true, "four")).toEqual([
      { field: "expected", message: "numeric scorer needs a number (or a numeric string) as the expected answer" },
    ]);
    expect(fields(spec, true, "12 apples")).toEqual(["expected"]);
    expect(fields(spec, true, true)).toEqual(["expected"]);
    expect(fields(spec, true, [1])).toEqual(["expected"]);
    expect(fields(spec, true, "-1e3")).toEqual([]);
  });

  it("rejects negative tolerances", () => {
    expect(fields({ type: "numeric", tolerance: -0.1 }, true, 1)).toEqual(["tolerance"]);
    expect(fields({ type: "numeric", relTolerance: -0.1 }, true, 1)).toEqual(["relTolerance"]);
  });
});

describe("json", () => {
  it("without expected or schema, any valid JSON passes", () => {
    expect(scoreOutput({ type: "json" }, '{"a": 1}', undefined)).toMatchObject({ pass: true, value: 1 });
    expect(scoreOutput({ type: "json" }, "[1, 2]", undefined).pass).toBe(true);
  });

  it("fails when there is no JSON", () => {
    expect(scoreOutput({ type: "json" }, "no idea", undefined)).toEqual({
      pass: false,
      value: 0,
      reason: "no JSON found in output",
    });
    expect(scoreOutput({ type: "json" }, "", undefined).reason).toBe("empty output, no JSON");
    expect(scoreOutput({ type: "json" }, '{"a": 1', undefined).pass).toBe(false);
  });

  it("finds JSON in a fenced block", () => {
    const output = 'Here you go:\n```json\n{"name": "Ada", "born": 1815}\n```\nAnything else?';
    expect(scoreOutput({ type: "json" }, output, { name: "Ada", born: 1815 }).pass).toBe(true);
    expect(scoreOutput({ type: "json" }, "```JSON\n[1]\n```", [1]).pass).toBe(true);
  });

  it("finds JSON embedded in prose, with braces inside strings", () => {
    const output = 'Sure! {"text": "a } tricky { string", "n": [1, {"m": 2}]} Hope that helps.';
    expect(scoreOutput({ type: "json" }, output, { text: "a } tricky { string", n: [1, { m: 2 }] }).pass).toBe(true);
  });

  it("skips braces that are not JSON", () => {
    expect(scoreOutput({ type: "json" }, 'use {curly} then {"ok": true}', { ok: true }).pass).toBe(true);
  });

  it("compares the whole value with expected, ignoring key order", () => {
    expect(scoreOutput({ type: "json" }, '{"b": 2, "a": 1}', { a: 1, b: 2 }).pass).toBe(true);
    const wrong = scoreOutput({ type: "json" }, '{"a": 1, "b": 3}', { a: 1, b: 2 });
    expect(wrong).toEqual({ pass: false, value: 0, reason: 'expected {"a":1,"b":2}, got {"a":1,"b":3}' });
    expect(scoreOutput({ type: "json" }, '{"a": 1, "b": 2, "c": 3}', { a: 1, b: 2 }).pass).toBe(false);
    expect(scoreOutput({ type: "json" }, "[2, 1]", [1, 2]).pass).toBe(false);
  });

  it("compares chosen fields with partial credit", () => {
    const spec: ScorerSpec = { type: "json", fields: ["city", "geo.lat", "tags.0"] };
    const expected = { city: "Oslo", geo: { lat: 59.9, lon: 10.7 }, tags: ["capital"] };
    expect(scoreOutput(spec, '{"city":"Oslo","geo":{"lat":59.9},"tags":["capital"],"extra":1}', expected).pass).toBe(true);
    const partial = scoreOutput(spec, '{"city":"Oslo","geo":{"lat":60},"tags":[]}', expected);
    expect(partial.pass).toBe(false);
    expect(partial.value).toBeCloseTo(1 / 3);
    expect(partial.reason).toBe("geo.lat: expected 59.9, got 60; tags.0: missing (1 of 3 checks pass)");
  });

  it("checks a schema and explains violations", () => {
    const spec: ScorerSpec = {
      type: "json",
      schema: {
        type: "object",
        required: ["name", "age"],
        properties: {
          name: { type: "string", minLength: 1, maxLength: 5 },
          age: { type: "integer", minimum: 0, maximum: 150 },
          role: { enum: ["admin", "user"] },
          tags: { type: "array", items: { type: "string" } },
          v: { const: 2 },
        },
        additionalProperties: false,
      },
    };
    expect(validateScorer(spec, false)).toEqual([]);
    expect(scoreOutput(spec, '{"name":"Ada","age":36,"role":"user","tags":["x"],"v":2}', undefined).pass).toBe(true);
    const cases: [string, string][] = [
      ['{"name":"Ada"}', '$: missing required "age"'],
      ['{"name":"Ada","age":36.5}', "$.age: expected integer, got number"],
      ['{"name":"Ada","age":-1}', "$.age: -1 is below minimum 0"],
      ['{"name":"Ada","age":200}', "$.age: 200 is above maximum 150"],
      ['{"name":"","age":1}', "$.name: shorter than 1 characters"],
      ['{"name":"Adelaide","age":1}', "$.name: longer than 5 characters"],
      ['{"name":"Ada","age":1,"role":"root"}', '$.role: "root" is not one of "admin", "user"'],
      ['{"name":"Ada","age":1,"tags":["x",2]}', "$.tags[1]: expected string, got number"],
      ['{"name":"Ada","age":1,"v":3}', "$.v: expected 2, got 3"],
      ['{"name":"Ada","age":1,"x":0}', '$: unexpected property "x"'],
      ["[1]", "$: expected object, got array"],
    ];
    for (const [output, reason] of cases) {
      const score = scoreOutput(spec, output, undefined);
      expect(score.pass, output).toBe(false);
      expect(score.reason, output).toBe(`schema: ${reason}`);
    }
  });

  it("counts string length in characters, not UTF-16 units", () => {
    const spec: ScorerSpec = { type: "json", schema: { type: "string", maxLength: 2 } };
    expect(scoreOutput(spec, '"😀😀"', undefined).pass).toBe(true);
  });

  it("accepts a list of types and shortens long error lists", () => {
    const spec: ScorerSpec = { type: "json", schema: { type: ["string", "null"] } };
    expect(scoreOutput(spec, "null", undefined).pass).toBe(true);
    expect(scoreOutput(spec, "1", undefined).reason).toBe("schema: $: expected string or null, got number");
    const many = { type: "json", schema: { type: "array", items: { type: "string" } } };
    expect(scoreOutput(many, "[1, 2, 3, 4]", undefined).reason).toContain("(+2 more)");
  });

  it("gives partial credit across schema and fields", () => {
    const spec: ScorerSpec = { type: "json", schema: { type: "object", required: ["a"] }, fields: ["a"] };
    expect(scoreOutput(spec, '{"a": 2}', { a: 1 })).toMatchObject({ pass: false, value: 0.5 });
    expect(scoreOutput(spec, '{"a": 1}', { a: 1 })).toMatchObject({ pass: true, value: 1 });
  });

  it("with a schema and expected but no fields, only the schema counts", () => {
    const spec: ScorerSpec = { type: "json", schema: { type: "object" } };
    expect(scoreOutput(spec, '{"a": 2}', { a: 1 }).pass).toBe(true);
  });

  it("reports unsupported schema keywords with their location", () => {
    const problems = validateScorer(
      { type: "json", schema: { type: "object", properties: { id: { type: "string", pattern: "^x" } }, oneOf: [] } },
      false,
    );
    expect(problems.map((p) => p.field)).toEqual(["schema", "schema"]);
    const messages = problems.map((p) => p.message);
    expect(messages).toEqual([
      expect.stringContaining('unsupported keyword "pattern" at schema.properties.id;'),
      expect.stringContaining('unsupported keyword "oneOf" at schema;'),
    ]);
    expect(messages[0]).toContain("supported: type, properties");
  });

  it("reports malformed schema keywords", () => {
    const bad: JsonValue[] = [
      { type: "float" },
      { type: [] },
      { properties: [] },
      { required: "a" },
      { items: [{ type: "string" }] },
      { enum: [] },
      { minimum: "0" },
      { maxLength: -1 },
      { minLength: 1.5 },
      { additionalProperties: { type: "string" } },
      { items: { type: "nope" } },
    ];
    for (const schema of bad) {
      expect(fields({ type: "json", schema }, false), JSON.stringify(schema)).toEqual(["schema"]);
    }
  });

  it("accepts annotation keywords", () => {
    const schema = { $schema: "https://json-schema.org/draft/2020-12/schema", title: "T", description: "d", type: "object" };
    expect(validateScorer({ type: "json", schema }, false)).toEqual([]);
  });

  it("reports problems with fields", () => {
    expect(validateScorer({ type: "json", fields: ["a"] }, false)).toEqual([
      { field: "expected", message: "json scorer with fields needs an expected answer" },
    ]);
    expect(fields({ type: "json", fields: [] }, true, { a: 1 })).toEqual(["fields"]);
    expect(fields({ type: "json", fields: ["a..b"] }, true, { a: 1 })).toContain("fields");
    const absent = validateScorer({ type: "json", fields: ["a", "b.c"] }, true, { a: 1 });
    expect(absent).toEqual([{ field: "fields", message: "not in the expected answer: b.c" }]);
  });

  it("never throws on hostile output", () => {
    const outputs = ["{".repeat(100_000), "[".repeat(5000) + "]".repeat(5000), '"\\', "```json\n{oops}\n```", "\u0000{}"];
    for (const output of outputs) {
      expect(() => scoreOutput({ type: "json", schema: { type: "array", items: { type: "array" } } }, output, undefined)).not.toThrow();
    }
  });
});

describe("choice", () => {
  const spec: ScorerSpec = { type: "choice", choices: ["A", "B", "C", "D"] };

  it("takes the choice the output starts with", () => {
    expect(scoreOutput(spec, "B", "B")).toEqual({ pass: true, value: 1, reason: 'picked "B"' });
    expect(scoreOutput(spec, "B. Because A and C are wrong", "B").pass).toBe(true);
    expect(scoreOutput(spec, "  (C) the third", "C").pass).toBe(true);
    expect(scoreOutput(spec, "**D**", "D").pass).toBe(true);
  });

  it("is case-insensitive", () => {
    expect(scoreOutput(spec, "b) ...", "B").pass).toBe(true);
    expect(scoreOutput(spec, "B", "b").pass).toBe(true);
  });

  it("otherwise takes the only choice mentioned", () => {
    expect(scoreOutput(spec, "The answer is C.", "C").pass).toBe(true);
    expect(scoreOutput(spec, "The answer is (D)", "C")).toEqual({
      pass: false,
      value: 0,
      reason: 'picked "D", expected "C"',
    });
  });

  it("needs whole words, not letters inside words", () => {
    expect(scoreOutput(spec, "Cabbage", "C").reason).toBe("no choice found among A, B, C, D");
  });

  it("fails when several choices are mentioned without leading with one", () => {
    expect(scoreOutput(spec, "Either A or C", "A")).toEqual({ pass: false, value: 0, reason: "ambiguous: mentions A, C" });
  });

  it("fails when no choice is mentioned, empty output included", () => {
    expect(scoreOutput(spec, "I am not sure", "A").reason).toBe("no choice found among A, B, C, D");
    expect(scoreOutput(spec, "", "A").reason).toBe("no choice found among A, B, C, D");
  });

  it("handles word choices, overlapping choices and Unicode", () => {
    const words: ScorerSpec = { type: "choice", choices: ["York", "New York", "Zürich"] };
    expect(scoreOutput(words, "New York, clearly", "New York").pass).toBe(true);
    expect(scoreOutput(words, "I would say new york.", "New York").pass).toBe(true);
    expect(scoreOutput(words, "Probably ZÜRICH", "Zürich").pass).toBe(true);
    expect(scoreOutput(words, "Zürichsee", "Zürich").pass).toBe(false);
    const sentiment: ScorerSpec = { type: "choice", choices: ["positive", "negative", "neutral"] };
    expect(scoreOutput(sentiment, "Sentiment: negative", "negative").pass).toBe(true);
    expect(scoreOutput(sentiment, "Positive, not negative", "positive").pass).toBe(true);
  });

  it("handles choices with regex characters", () => {
    const langs: ScorerSpec = { type: "choice", choices: ["C", "C++", "C#"] };
    expect(scoreOutput(langs, "C++ of course", "C++").pass).toBe(true);
    expect(scoreOutput(langs, "I'd pick C# here", "C#").pass).toBe(true);
  });

  it("reports problems with choices and expected", () => {
    expect(fields({ type: "choice" }, true, "A")).toEqual(["choices"]);
    expect(fields({ type: "choice", choices: ["A"] }, true, "A")).toEqual(["choices"]);
    expect(fields({ type: "choice", choices: ["A", " "] }, true, "A")).toEqual(["choices"]);
    const dupes = validateScorer({ type: "choice", choices: ["A", "B", "a"] }, true, "A");
    expect(dupes).toEqual([{ field: "choices", message: "duplicate choices (case does not count): a" }]);
    expect(validateScorer(spec, true, "E")).toEqual([
      { field: "expected", message: "choice scorer needs one of A, B, C, D as the expected answer" },
    ]);
    expect(fields(spec, true, "a")).toEqual([]);
    expect(fields(spec, true, ["A"])).toEqual(["expected"]);
  });
});

describe("model-graded scorers (judge, similarity) before grading", () => {
  it("check their options and leave a failed placeholder that says grading is pending", () => {
    expect(validateScorer({ type: "judge", model: "m.yaml" }, false).map((p) => p.field)).toEqual(["rubric"]);
    expect(validateScorer({ type: "judge", rubric: "r", scale: 1 }, false).map((p) => p.field).sort()).toEqual(["model", "scale"]);
    expect(validateScorer({ type: "judge", model: "m", rubric: "r", pass: 9 }, false).map((p) => p.field)).toEqual(["pass"]);
    expect(validateScorer({ type: "similarity", model: "m" }, false).map((p) => p.field)).toEqual(["expected"]);
    expect(validateScorer({ type: "similarity", model: "m", threshold: 2 }, true, "x").map((p) => p.field)).toEqual(["threshold"]);
    const s = scoreOutput({ type: "judge", model: "m", rubric: "r" }, "anything", undefined);
    expect(s.pass).toBe(false);
    expect(s.reason).toMatch(/^awaiting grading \(judge\)/);
  });
});
