// Shared pieces of the browser end-to-end scenarios: Debian's Chromium under playwright-core,
// the gateway's address from the environment, screenshots into the artifacts directory.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const env = {
  // The Control UI link with `#token=...`, as `hearth dashboard` prints it.
  url: need("HEARTH_URL"),
  // The gateway's origin, without a token.
  base: need("HEARTH_BASE"),
  fake: process.env.FAKE_BASE_URL ?? "",
  artifacts: process.env.HEARTH_ARTIFACTS ?? "target/artifacts/e2e",
};

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these scenarios through tests/integration/browser.rs`);
  return v;
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (err) => console.error(`[page error] ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") console.error(`[console] ${msg.text()}`);
  });
  return page;
}

export async function shot(page, name) {
  mkdirSync(env.artifacts, { recursive: true });
  const path = join(env.artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  console.log(`screenshot: ${path}`);
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/// Runs a scenario: screenshots the page on failure, exits non-zero with the reason.
export async function scenario(name, body) {
  const browser = await launch();
  let page;
  try {
    await body({
      browser,
      page: async (opts) => (page = await newPage(browser, opts)),
    });
    console.log(`ok: ${name}`);
  } catch (err) {
    console.error(`FAILED: ${name}: ${err.stack ?? err}`);
    if (page) await shot(page, `${name}-failure`).catch(() => {});
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
