// Accessibility: axe-core's WCAG 2 A/AA rules on every page, in light and dark, at laptop and
// phone widths. Serious and critical findings fail the scenario.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { check, env, scenario, shot } from "./lib.mjs";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const pages = ["overview", "chat", "channels", "sessions", "providers", "agents", "cron", "people", "usage", "audit", "logs", "config", "welcome"];

// The browser test adds a job that has fired (tests/integration/browser.rs).
const states = {
  cron: [
    ["history", (page) => page.getByRole("button", { name: "History of Morning briefing" }).click()],
    [
      "edit dialog",
      async (page) => {
        await page.getByRole("button", { name: "Edit Morning briefing" }).click();
        await page.getByRole("dialog", { name: "Edit Morning briefing" }).waitFor();
      },
    ],
  ],
};

await scenario("a11y", async ({ browser }) => {
  const problems = [];
  const audit = async (page, where) => {
    // Through the DevTools protocol: the page's CSP (script-src 'self') rightly refuses an
    // injected script tag.
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () =>
      // eslint-disable-next-line no-undef
      axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
    );
    for (const v of result.violations) {
      if (v.impact === "serious" || v.impact === "critical") {
        const nodes = v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ");
        problems.push(`${where}: ${v.id} (${v.impact}): ${v.help} — ${nodes}`);
      }
    }
  };
  for (const [viewport, colorScheme] of [
    [{ width: 1280, height: 800 }, "light"],
    [{ width: 390, height: 844 }, "dark"],
  ]) {
    const context = await browser.newContext({ viewport, colorScheme });
    const page = await context.newPage();
    await page.goto(env.url);
    await page.getByRole("status").filter({ hasText: "Connected" }).first().waitFor();
    for (const name of pages) {
      await page.evaluate((route) => { location.hash = `#/${route}`; }, name);
      await page.waitForTimeout(400);
      await audit(page, `${colorScheme} ${viewport.width}px #/${name}`);
      // States a page only shows after a click: each is checked as well.
      for (const [what, open] of states[name] ?? []) {
        await open(page);
        await page.waitForTimeout(200);
        await audit(page, `${colorScheme} ${viewport.width}px #/${name} (${what})`);
        await shot(page, `a11y-${name}-${what.replace(/ /g, "-")}-${colorScheme}`);
      }
      if (states[name]) await page.keyboard.press("Escape");
    }
    await context.close();
  }
  check(problems.length === 0, `accessibility problems:\n${problems.join("\n")}`);
});
