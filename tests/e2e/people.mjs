// People: the owner links themselves (webchat:owner) with a Telegram identity that wrote to
// the bot before; the code the bot sent to that chat is entered and the link is listed.
//
// Besides lib.mjs's variables: HEARTH_E2E_IDENTITY (the Telegram identity, `telegram:<id>`)
// and HEARTH_E2E_CODE_FILE, where the test driver writes the code once the fake Telegram has
// received it.
import { existsSync, readFileSync } from "node:fs";
import { check, env, scenario, shot } from "./lib.mjs";

const identity = process.env.HEARTH_E2E_IDENTITY ?? "";
const codeFile = process.env.HEARTH_E2E_CODE_FILE ?? "";
if (!identity || !codeFile) throw new Error("HEARTH_E2E_IDENTITY and HEARTH_E2E_CODE_FILE are set by tests/integration/browser.rs");

async function readCode(page) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (existsSync(codeFile)) {
      const code = readFileSync(codeFile, "utf8").trim();
      if (code) return code;
    }
    await page.waitForTimeout(100);
  }
  throw new Error("no code reached the Telegram chat within 20 s");
}

await scenario("people", async ({ page: open }) => {
  const page = await open();
  await page.goto(env.url);
  await page.getByRole("link", { name: "People" }).click();
  await page.getByRole("heading", { name: "People", level: 1 }).waitFor();
  await page.getByText("No linked identities yet.").waitFor();

  await page.getByRole("button", { name: "Link identities" }).click();
  const dialog = page.getByRole("dialog", { name: "Link identities" });
  await dialog.waitFor();
  await dialog.getByLabel("Name").fill("me");
  const first = dialog.getByLabel("Identity 1");
  check((await first.inputValue()) === "webchat:owner", "the owner is offered first");
  await dialog.getByLabel("Identity 2").fill(identity);
  await dialog.getByRole("button", { name: "Send codes" }).click();

  const codeBox = dialog.getByLabel(`Code sent to ${identity}`);
  await codeBox.waitFor();
  check(/verified/.test(await dialog.innerText()), "the owner counts as verified");
  // Behind the dialog, the link waits with its expiry.
  const pending = page.locator('ul[aria-label="Pending links"]');
  await pending.getByText("me", { exact: true }).waitFor();
  check(/expires in/.test(await pending.innerText()), "the pending link counts down");
  await shot(page, "people-enter-code");

  // A wrong code is refused and the dialog stays.
  await codeBox.fill("000000");
  await dialog.getByRole("button", { name: "Confirm" }).click();
  const refusal = dialog.getByRole("alert");
  await refusal.waitFor();
  check((await refusal.innerText()).trim() !== "", "a wrong code is refused with a reason");

  const code = await readCode(page);
  check(/^\d{6}$/.test(code), `a 6-digit code was sent: ${code}`);
  await codeBox.fill(code);
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await dialog.waitFor({ state: "hidden" });

  const person = page.getByRole("article", { name: "Person me" });
  await person.waitFor();
  const text = await person.innerText();
  check(text.includes(identity), `the Telegram identity is listed: ${text}`);
  check(text.includes("webchat:owner"), `the owner identity is listed: ${text}`);
  check(/owner/.test(await person.locator(".badge").innerText()), "the owner is marked");
  await person.getByRole("button", { name: `Unlink ${identity}` }).waitFor();
  await page.getByText("No link is waiting.").waitFor();
  await shot(page, "people-linked");
});
