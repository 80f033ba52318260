// From an empty $HEARTH_HOME to an answered test message, through every wizard step.
import { check, env, scenario, shot } from "./lib.mjs";

await scenario("onboarding", async ({ page: open }) => {
  const page = await open();
  await page.goto(env.url);
  // The wizard opens by itself while no provider is set up.
  await page.getByRole("heading", { name: "Set up Hearth" }).waitFor();
  check(!page.url().includes("token="), "the token is removed from the address bar");
  await shot(page, "wizard-1-welcome");
  await page.getByRole("button", { name: "Next" }).click();

  // Provider: an OpenAI-compatible server (the fake), verified with a real request.
  await page.getByRole("radio", { name: "OpenAI-compatible URL" }).check();
  await page.getByLabel("Base URL").fill(env.fake);
  await page.getByLabel(/^API key/).fill("sk-wrong-key");
  const next = page.getByRole("button", { name: "Next" });
  check(await next.isDisabled(), "Next waits for a successful Verify");
  await page.getByRole("button", { name: "Verify" }).click();
  await page.locator(".error-text").first().waitFor();
  check(await next.isDisabled(), "a refused key does not unlock Next");
  await page.getByLabel(/^API key/).fill("sk-onboard-e2e");
  await page.getByRole("button", { name: "Verify" }).click();
  await page.getByText("Verified").waitFor();
  await shot(page, "wizard-2-provider");
  await next.click();

  // Models: the provider's own list.
  await page.getByLabel("Default model").selectOption({ label: "fake-large" });
  await page.getByLabel("Fallback model").selectOption({ label: "fake-small" });
  await shot(page, "wizard-3-models");
  await page.getByRole("button", { name: "Next" }).click();

  // Assistant: name and first lines of SOUL.md / USER.md.
  await page.getByLabel("Assistant name").fill("Ember");
  await page.getByLabel(/SOUL\.md/).fill("You are Ember: calm and precise.");
  await page.getByLabel(/USER\.md/).fill("Ada lives in Lisbon and likes short answers.");
  await page.getByRole("button", { name: "Next" }).click();

  // Channel (WebChat), access policy (pairing by default), launch at login: defaults.
  await page.getByRole("button", { name: "Next" }).click();
  check(
    await page.getByRole("radio", { name: /pairing/i }).isChecked(),
    "pairing is the default access policy",
  );
  await shot(page, "wizard-6-access");
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByRole("button", { name: "Next" }).click();

  // Review, then one write.
  await shot(page, "wizard-8-review");
  await page.getByRole("button", { name: "Save and continue" }).click();

  // The test message must get an answer.
  await page.getByRole("button", { name: "Send test message" }).click();
  await page.getByText("Your assistant answered.").waitFor();
  const answer = await page.getByRole("log", { name: "Test answer" }).innerText();
  check(answer.includes("ready to help"), `the streamed answer is shown: ${answer}`);
  await shot(page, "wizard-9-test-message");
  await page.getByRole("button", { name: "Finish" }).click();
  await page.getByRole("link", { name: "Overview" }).waitFor();
});
