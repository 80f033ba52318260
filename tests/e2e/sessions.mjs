// Sessions: a session started in another tab appears in the list without a reload.
import { check, env, scenario, shot } from "./lib.mjs";

await scenario("sessions", async ({ browser, page: open }) => {
  const page = await open();
  await page.goto(env.url);
  await page.getByRole("link", { name: "Sessions" }).click();
  const table = page.getByRole("table", { name: "Sessions" });
  await page.waitForTimeout(300);
  check(
    (await table.getByText("garden-plans").count()) === 0,
    "the session does not exist yet",
  );

  // A second tab (its own session storage, so it signs in from the link too) starts a session.
  const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const tab = await other.newPage();
  await tab.goto(env.url);
  await tab.getByRole("link", { name: "Chat" }).click();
  await tab.getByLabel("New session name").fill("garden-plans");
  await tab.getByRole("button", { name: "Open" }).click();
  await tab.getByLabel("Message").fill("Plant tomatoes in April.");
  await tab.getByRole("button", { name: "Send" }).click();
  await tab.getByText("Noted.").last().waitFor();

  // The first tab never reloaded.
  await table.getByText("garden-plans").first().waitFor();
  await shot(page, "sessions-live");
  await table.getByText("garden-plans").first().click();
  await page.getByText("Plant tomatoes in April.").first().waitFor();
  await other.close();
});
