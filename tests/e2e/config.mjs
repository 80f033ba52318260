// Config: the raw editor shows a validation error with its path before saving, then saves a
// valid edit (atomically, guarded by the file's hash).
import { check, env, scenario, shot } from "./lib.mjs";

await scenario("config", async ({ page: open }) => {
  const page = await open();
  await page.goto(env.url);
  await page.getByRole("link", { name: "Config" }).click();
  await page.getByRole("tab", { name: "Raw" }).click();
  const editor = page.getByRole("textbox", { name: "hearth.json" });
  const original = await editor.inputValue();
  check(original.includes("fake-model"), "the editor holds the file as it is on disk");

  // An invalid value: the error names the setting's path.
  const invalid = original.replace("agents: {", 'agents: { defaults_typo: 1, ');
  check(invalid !== original, "the test config has an `agents: {` to edit");
  await editor.fill(invalid);
  await page.getByText("agents.defaults_typo", { exact: false }).first().waitFor();
  await shot(page, "config-error");

  // A syntax error is caught in the browser with its line.
  await editor.fill(original.replace("agents: {", "agents: {{"));
  await page.getByText(/line \d+/i).first().waitFor();

  // A valid edit saves.
  const valid = original.replace(
    "agents: { defaults: {",
    "agents: { defaults: { maxConcurrent: 3,",
  );
  check(valid !== original, "the test config has `agents: { defaults: {`");
  await editor.fill(valid);
  await page.waitForTimeout(600);
  await page.getByRole("tabpanel").getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved. The gateway applied the new file.").waitFor();
  await shot(page, "config-saved");
});
