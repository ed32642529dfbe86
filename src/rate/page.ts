import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

/**
 * The rating page: one HTML document with its stylesheet and script inlined (assets/rate/), and
 * the Content-Security-Policy the server sends with it: only that script and style run (by
 * sha256), it may talk to its own server only, and nothing is fetched from anywhere else. The
 * page holds no run data; its script asks the server's API for one item at a time.
 */

// From src/rate or dist/rate, the repository root is two levels up.
const asset = (name: string) => readFileSync(new URL(`../../assets/rate/${name}`, import.meta.url), "utf8");
let assets: { css: string; js: string } | undefined;

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

export interface RatePage {
  html: string;
  csp: string;
}

export function ratePage(): RatePage {
  assets ??= { css: asset("rate.css"), js: asset("rate.js") };
  const { css, js } = assets;
  const csp = `default-src 'none'; script-src ${sha256(js)}; style-src ${sha256(css)}; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="heldout">
<link rel="icon" href="data:,">
<title>heldout: blind rating</title>
<style>${css}</style>
</head>
<body>
<main id="app" data-ready="false">
<header><h1>Blind rating</h1><span id="progress">loading…</span><span id="rater"></span><button type="button" id="undo" disabled title="key u: take back the last rating">undo (u)</button></header>
<section id="item" hidden>
<h2>Prompt <span id="area" class="note"></span></h2>
<pre id="prompt"></pre>
<div id="single"><h2>Output</h2><pre id="output" class="output"></pre></div>
<div id="pair" class="pair" hidden>
<div><h2>Left (1 / ←)</h2><pre id="left" class="output"></pre></div>
<div><h2>Right (2 / →)</h2><pre id="right" class="output"></pre></div>
</div>
<div id="controls"></div>
<p id="keys-score" class="note">Keys: <kbd>1</kbd>–<kbd>5</kbd> score, <kbd>n</kbd> or <kbd>space</kbd> skip for now, <kbd>u</kbd> undo the last rating.</p>
<p id="keys-pairwise" class="note" hidden>Keys: <kbd>1</kbd> or <kbd>←</kbd> left is better, <kbd>2</kbd> or <kbd>→</kbd> right is better, <kbd>0</kbd> or <kbd>=</kbd> tie, <kbd>n</kbd> or <kbd>space</kbd> skip for now, <kbd>u</kbd> undo.</p>
<h2>Rubric</h2>
<pre id="rubric-text"></pre>
</section>
<section id="done" hidden><p id="done-text"></p></section>
<p id="message" role="status"></p>
<p class="note">The outputs are shown blind: which model or setting wrote them is hidden, and the order is shuffled. Ratings are saved as you give them.</p>
</main>
<script>${js}</script>
</body>
</html>
`;
  return { html, csp };
}
