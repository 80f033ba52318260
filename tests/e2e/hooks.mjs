// Webhooks on the Cron page: the card says they are on and where, lists the mappings with
// their signature style (never a secret), and a call the driver posts while the page is open
// appears live, ends completed, and shows the fake model's whole answer when expanded.
import { writeFileSync } from "node:fs";
import { check, env, scenario, shot } from "./lib.mjs";

const answer = process.env.HEARTH_E2E_ANSWER ?? "";
const readyFile = process.env.HEARTH_E2E_READY_FILE ?? "";
const secret = process.env.HEARTH_E2E_SECRET ?? "";
check(answer && readyFile && secret, "HEARTH_E2E_ANSWER, _READY_FILE and _SECRET are not set: run this scenario through tests/integration/browser.rs");

await scenario("hooks", async ({ page: open }) => {
  const page = await open();
  await page.goto(env.url);
  await page.getByRole("link", { name: "Cron" }).click();
  await page.getByRole("heading", { name: "Cron", level: 1 }).waitFor();
  const card = page.getByRole("region", { name: "Webhooks" });
  await card.getByText("No calls yet.").waitFor();
  const intro = await card.locator("p").first().innerText();
  check(intro.includes("POST /hooks/agent") && intro.includes("/hooks/wake"), `the card says webhooks are on and where: ${intro}`);

  const mappings = card.getByRole("table", { name: "Webhook mappings" });
  const github = mappings.getByRole("row").filter({ hasText: "/hooks/github" });
  await github.waitFor();
  const githubText = await github.innerText();
  check(/run the agent/.test(githubText) && /GitHub signature/.test(githubText), `the GitHub mapping: ${githubText}`);
  check(/telegram:123456/.test(githubText) && /30 per minute/.test(githubText), `its target and rate: ${githubText}`);
  const nudge = await mappings.getByRole("row").filter({ hasText: "/hooks/nudge" }).innerText();
  check(/wake the heartbeat/.test(nudge) && /webhook token/.test(nudge), `the wake mapping: ${nudge}`);
  check(!(await card.innerText()).includes(secret), "no signing secret on the page");

  // The driver posts a call now; it arrives through the `hook` events, without a reload.
  writeFileSync(readyFile, "ready");
  const calls = card.getByRole("table", { name: "Webhook calls" });
  const row = calls.getByRole("row").filter({ hasText: "agent" });
  await row.getByText("completed").waitFor({ timeout: 30_000 });
  const rowText = await row.innerText();
  check(/\d+(\.\d)? m?s/.test(rowText), `a duration: ${rowText}`);
  const firstLine = answer.split("\n")[0];
  const summary = row.getByText(firstLine, { exact: false }).first();
  await summary.click();
  await row.getByText(answer.split("\n").pop()).waitFor();
  await shot(page, "cron-webhooks");
});
