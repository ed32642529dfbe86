/**
 * A deliberately small JSON Schema subset, enough to check the shape of a model's structured answer.
 * Keywords outside the subset are rejected when the suite is validated rather than silently ignored,
 * so a schema never looks stricter than it is.
 */
import type { JsonValue } from "../core/types.js";
import { isObject } from "./common.js";

const TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"] as const;

/** Keywords that only document a schema; accepted and ignored. */
const ANNOTATIONS = ["$schema", "$id", "$comment", "title", "description", "default", "examples"];
const CHECKED = [
  "type", "properties", "required", "items", "enum", "const",
  "minimum", "maximum", "minLength", "maxLength", "additionalProperties",
];
export const SUPPORTED_KEYWORDS: readonly string[] = [...CHECKED, ...ANNOTATIONS];

type Schema = { [key: string]: JsonValue };

function isCount(v: JsonValue | undefined): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

/** Problems with the schema itself, each prefixed with where in the schema it sits. */
export function checkSchema(schema: JsonValue, at = "schema"): string[] {
  if (!isObject(schema)) return [`${at} must be an object`];
  const out: string[] = [];
  for (const [key, v] of Object.entries(schema)) {
    if (!SUPPORTED_KEYWORDS.includes(key)) {
      out.push(`unsupported keyword "${key}" at ${at}; supported: ${CHECKED.join(", ")}`);
      continue;
    }
    switch (key) {
      case "type": {
        const list = Array.isArray(v) ? v : [v];
        const bad = list.filter((t) => typeof t !== "string" || !(TYPES as readonly string[]).includes(t));
        if (bad.length > 0 || list.length === 0) out.push(`${at}.type must be one of ${TYPES.join(", ")} (or a list of them)`);
        break;
      }
      case "properties":
        if (!isObject(v)) out.push(`${at}.properties must be an object`);
        else for (const [name, sub] of Object.entries(v)) out.push(...checkSchema(sub, `${at}.properties.${name}`));
        break;
      case "required":
        if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) out.push(`${at}.required must be a list of strings`);
        break;
      case "items":
        // Tuple form (a list of schemas) is a different keyword in newer drafts; not supported.
        if (!isObject(v)) out.push(`${at}.items must be a schema object`);
        else out.push(...checkSchema(v, `${at}.items`));
        break;
      case "enum":
        if (!Array.isArray(v) || v.length === 0) out.push(`${at}.enum must be a non-empty list`);
        break;
      case "minimum":
      case "maximum":
        if (typeof v !== "number") out.push(`${at}.${key} must be a number`);
        break;
      case "minLength":
      case "maxLength":
        if (!isCount(v)) out.push(`${at}.${key} must be a whole number, 0 or more`);
        break;
      case "additionalProperties":
        if (typeof v !== "boolean") out.push(`${at}.additionalProperties must be true or false (schemas are not supported)`);
        break;
    }
  }
  return out;
}

export function typeOf(v: JsonValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function hasType(v: JsonValue, t: string): boolean {
  if (t === "integer") return typeof v === "number" && Number.isInteger(v);
  return typeOf(v) === t;
}

/** Key order does not matter for objects; everything else compares by value. */
export function deepEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i] as JsonValue));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k] as JsonValue, b[k] as JsonValue));
}

/** Short JSON for messages. */
export function show(v: JsonValue): string {
  const text = JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * Where `value` breaks `schema`, as "$.path: what" strings. Assumes a schema that passed
 * checkSchema. Stops descending into a value once its type is wrong, so one mistake is one error.
 */
export function validateValue(schema: Schema, value: JsonValue, at = "$"): string[] {
  const type = schema.type;
  if (type !== undefined) {
    const types = (Array.isArray(type) ? type : [type]).map(String);
    if (!types.some((t) => hasType(value, t))) return [`${at}: expected ${types.join(" or ")}, got ${typeOf(value)}`];
  }
  const errors: string[] = [];
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(e, value))) {
    errors.push(`${at}: ${show(value)} is not one of ${schema.enum.map(show).join(", ")}`);
  }
  if (schema.const !== undefined && !deepEqual(schema.const, value)) {
    errors.push(`${at}: expected ${show(schema.const)}, got ${show(value)}`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errors.push(`${at}: ${value} is below minimum ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) errors.push(`${at}: ${value} is above maximum ${schema.maximum}`);
  }
  if (typeof value === "string") {
    // Length in code points, as JSON Schema defines it, not UTF-16 units.
    const length = [...value].length;
    if (typeof schema.minLength === "number" && length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength} characters`);
    if (typeof schema.maxLength === "number" && length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength} characters`);
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    const items = schema.items;
    value.forEach((item, i) => errors.push(...validateValue(items, item, `${at}[${i}]`)));
  }
  if (isObject(value)) {
    const props = isObject(schema.properties) ? schema.properties : {};
    if (Array.isArray(schema.required)) {
      for (const name of schema.required) {
        if (typeof name === "string" && !Object.hasOwn(value, name)) errors.push(`${at}: missing required "${name}"`);
      }
    }
    for (const [name, v] of Object.entries(value)) {
      const sub = Object.hasOwn(props, name) ? props[name] : undefined;
      if (isObject(sub)) errors.push(...validateValue(sub, v, `${at}.${name}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: unexpected property "${name}"`);
    }
  }
  return errors;
}
