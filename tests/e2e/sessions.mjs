// Sessions: a session started in another tab appears in the list without a reload; forking it
// at the answer opens the new session, which says where it came from.
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
  // The link is the session's title (its first message) once it has one, else its key.
  await table.getByRole("row").filter({ hasText: "garden-plans" }).getByRole("link").first().click();
  await page.getByRole("button", { name: "Export Markdown" }).waitFor();
  await page.getByRole("article", { name: "From you" }).getByText("Plant tomatoes in April.").waitFor();
  await other.close();

  // Fork at the answer (the second message): the page moves to the new session.
  await page.getByRole("button", { name: "Fork from here, message 2" }).click();
  await page.waitForFunction(() => decodeURIComponent(location.hash).includes(":fork:"));
  const note = page.getByText("Forked from", { exact: false }).first();
  await note.waitFor();
  const noteText = await note.innerText();
  check(/at message 2/.test(noteText), `the fork says where it came from: ${noteText}`);
  await page.getByText("Plant tomatoes in April.").first().waitFor();
  await page.getByText("Noted.").first().waitFor();
  await shot(page, "sessions-forked");
  await page.getByRole("link", { name: "← Back to the list" }).click();
  await table.getByText(/forked from .* at message 2/).first().waitFor();
});
