// Accessibility: axe-core's WCAG 2 A/AA rules on every page, in light and dark, at laptop and
// phone widths. Serious and critical findings fail the scenario.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { check, env, scenario } from "./lib.mjs";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const pages = ["overview", "chat", "channels", "sessions", "providers", "agents", "people", "usage", "audit", "logs", "config", "welcome"];

await scenario("a11y", async ({ browser }) => {
  const problems = [];
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
      // Through the DevTools protocol: the page's CSP (script-src 'self') rightly refuses an
      // injected script tag.
      await page.evaluate(axeSource);
      const result = await page.evaluate(async () =>
        // eslint-disable-next-line no-undef
        axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
      );
      for (const v of result.violations) {
        if (v.impact === "serious" || v.impact === "critical") {
          const where = v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ");
          problems.push(`${colorScheme} ${viewport.width}px #/${name}: ${v.id} (${v.impact}): ${v.help} — ${where}`);
        }
      }
    }
    await context.close();
  }
  check(problems.length === 0, `accessibility problems:\n${problems.join("\n")}`);
});
