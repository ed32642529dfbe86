import { HeldoutError } from "./errors.js";

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** The variable names a template uses, in order of first appearance. */
export function templateVariables(template: string): string[] {
  const names: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1] as string;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** Substitutes `{{var}}` placeholders. A placeholder without a value is an error, never an empty string. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (value === undefined) throw new HeldoutError("template-variable", `prompt template uses {{${name}}} but the task has no such variable`, { field: `vars.${name}` });
    return value;
  });
}
