// Channels: the Telegram bot the harness configured shows as connected with its identity; the
// pairing request of a stranger who wrote to it is approved from the page and moves to the
// approved senders; the add-channel wizard refuses a wrong token before Next unlocks.
//
// Besides lib.mjs's variables: HEARTH_E2E_TELEGRAM_URL (the fake Bot API's root, so the wizard
// tests its token there), optionally HEARTH_E2E_TELEGRAM_IDENTITY (the bot, e.g. `@hearth_bot`)
// and HEARTH_E2E_PAIRING_SENDER (the name of the fake user who wrote to the bot).
import { check, env, scenario, shot } from "./lib.mjs";

const telegramApi = process.env.HEARTH_E2E_TELEGRAM_URL ?? "";
const identity = process.env.HEARTH_E2E_TELEGRAM_IDENTITY ?? "";
const senderName = process.env.HEARTH_E2E_PAIRING_SENDER ?? "";
const WRONG_TOKEN = "123456789:wrong-token-for-the-e2e-test";

await scenario("channels", async ({ page: open }) => {
  const page = await open();
  await page.goto(env.url);
  await page.getByRole("link", { name: "Channels" }).click();
  await page.getByRole("heading", { name: "Channels", level: 1 }).waitFor();

  // The account, connected, with the bot's identity.
  const card = page.getByRole("article", { name: "Telegram account default" });
  await card.getByText("Connected", { exact: true }).waitFor();
  const bot = await card.evaluate((el) => {
    const dt = [...el.querySelectorAll("dt")].find((d) => d.textContent.trim() === "Bot");
    return dt?.nextElementSibling?.textContent.trim() ?? "";
  });
  check(bot !== "" && bot !== "not known yet", `the card shows the bot's identity, not "${bot}"`);
  if (identity) check(bot.includes(identity), `the identity is ${identity}: ${bot}`);

  // The stranger's request, approved here.
  const pending = page.getByRole("list", { name: "Pending pairing requests" });
  const items = pending.getByRole("listitem");
  const item = senderName ? items.filter({ hasText: senderName }).first() : items.first();
  await item.waitFor();
  const who = (await item.locator("strong").first().innerText()).trim();
  const code = (await item.locator("code").innerText()).trim();
  check(/^[A-Z0-9-]{4,}$/i.test(code), `a pairing code is shown: "${code}"`);
  check(/expires in/.test(await item.innerText()), "the request counts down to its expiry");
  await shot(page, "channels-pending-pairing");
  await item.getByRole("button", { name: `Approve ${code}` }).click();
  await page.getByRole("button", { name: `Approve ${code}` }).waitFor({ state: "detached" });
  await page.getByRole("list", { name: "Approved senders" }).getByText(who).first().waitFor();
  await page.getByRole("button", { name: new RegExp(`^Revoke ${who.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`) }).first().waitFor();
  await shot(page, "channels-approved");

  // The wizard: a wrong token fails the test and Next stays locked.
  await page.getByRole("button", { name: "Add channel" }).click();
  const dialog = page.getByRole("dialog", { name: "Add a channel" });
  await dialog.waitFor();
  await dialog.getByRole("radio", { name: "Telegram" }).check();
  check(/BotFather/.test(await dialog.innerText()), "the Telegram steps name @BotFather");
  await shot(page, "channels-wizard-platform");
  await dialog.getByRole("button", { name: "Next" }).click();
  await dialog.getByLabel("Bot token").fill(WRONG_TOKEN);
  if (telegramApi) {
    await dialog.getByText("Advanced", { exact: true }).click();
    await dialog.getByLabel("API root").fill(telegramApi);
  }
  const next = dialog.getByRole("button", { name: "Next" });
  check(await next.isDisabled(), "Next waits for a passing test");
  await dialog.getByRole("button", { name: "Test connection" }).click();
  const failure = dialog.getByRole("alert");
  await failure.waitFor();
  const failureText = await failure.innerText();
  check(/failed|could not/i.test(failureText), `the test reports the refusal: ${failureText}`);
  check(!failureText.includes("wrong-token"), "the error does not echo the token");
  check(await next.isDisabled(), "a refused token does not unlock Next");
  check(!(await page.content()).includes("wrong-token"), "the token is not written into the page");
  await shot(page, "channels-wizard-refused");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await dialog.waitFor({ state: "hidden" });

  // Phone width: the cards and the pairing panel stack.
  await page.setViewportSize({ width: 360, height: 760 });
  await card.getByText("Connected", { exact: true }).waitFor();
  await shot(page, "channels-phone");
});
