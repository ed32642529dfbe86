import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { escapeHtml } from "./escape.js";

/**
 * The page shell every report shares: one file with its own stylesheet and script inlined, and a
 * Content-Security-Policy that lets only those two run (by sha256), loads nothing from anywhere,
 * and so keeps a model's output from running as script even if an escape were ever missed.
 */

// From src/report/html or dist/report/html, the repository root is three levels up.
const asset = (name: string) => readFileSync(new URL(`../../../assets/report/${name}`, import.meta.url), "utf8");
let assets: { css: string; js: string } | undefined;

function loadAssets(): { css: string; js: string } {
  assets ??= { css: asset("report.css"), js: asset("client.js") };
  return assets;
}

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

export function page(title: string, body: string): string {
  const { css, js } = loadAssets();
  const csp = `default-src 'none'; script-src ${sha256(js)}; style-src ${sha256(css)}; img-src data:; base-uri 'none'; form-action 'none'`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="heldout">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
</head>
<body>
${body}
<script>${js}</script>
</body>
</html>
`;
}

/** A table whose headers sort it in the browser; `cells` are already-escaped `<td>` strings. */
export function sortableTable(id: string, headers: { label: string; text?: boolean; title?: string }[], rows: { cells: string[]; cls?: string }[]): string {
  const head = headers.map((h) => `<th${h.text ? ' class="text"' : ""}${h.title ? ` title="${escapeHtml(h.title)}"` : ""}>${escapeHtml(h.label)}</th>`).join("");
  const body = rows.map((r) => `<tr${r.cls ? ` class="${r.cls}"` : ""}>${r.cells.join("")}</tr>`).join("\n");
  return `<div class="table-wrap"><table class="sortable" id="${id}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/** A numeric cell: shown formatted, sorted by its value (empty sorts last). */
export function num(value: number | null | undefined, shown: string, cls?: string): string {
  return `<td${cls ? ` class="${cls}"` : ""} data-v="${value === null || value === undefined || !Number.isFinite(value) ? "" : value}">${escapeHtml(shown)}</td>`;
}

export function text(value: string, cls = "text"): string {
  return `<td class="${cls}">${escapeHtml(value)}</td>`;
}

export function figure(svgMarkup: string, caption: string): string {
  return `<figure>${svgMarkup}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}
