#!/usr/bin/env node
// A picture of the HTML report, for a reviewer: runs the demo (`heldout run`, the README's main
// job) unless a run is named, writes its report, opens it in headless Chromium and saves a
// full-page screenshot beside it, reporting any console error the page printed.
//   npm run build && node bench/report-screenshot.mjs [run-id-or-folder] [--out shot.png]
// Playwright starts it with a fresh temporary profile. Needs Debian's chromium (apt-get install chromium) or HELDOUT_CHROMIUM=/path/to/chrome.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const args = process.argv.slice(2);
const outAt = args.indexOf("--out");
const shot = outAt >= 0 ? args.splice(outAt, 2)[1] : undefined;
const heldout = (...a) => {
  const r = spawnSync(process.execPath, [join(root, "bin/heldout.js"), ...a], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`heldout ${a.join(" ")} failed`);
  return r.stdout.trim();
};
let run = args[0];
if (!run) {
  run = "report-demo";
  heldout("run", "--run-id", run, "-q");
}
const report = resolve(root, heldout("report", run).split("\n").pop());
const png = resolve(shot ?? report.replace(/\.html$/, ".png"));
const browser = await chromium.launch({
  executablePath: process.env.HELDOUT_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const pageErrors = [];
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
page.on("pageerror", (e) => pageErrors.push(String(e)));
const t0 = performance.now();
await page.goto(pathToFileURL(report).href);
await page.waitForSelector("#task-browser[data-ready=true]");
const ready = performance.now() - t0;
await page.screenshot({ path: png, fullPage: true });
await browser.close();
console.log(`report:     ${report}`);
console.log(`screenshot: ${png}`);
console.log(`opened and task browser ready in ${ready.toFixed(0)} ms; console errors: ${pageErrors.length ? pageErrors.join(" | ") : "none"}`);
