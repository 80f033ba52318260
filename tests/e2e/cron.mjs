// Cron: a weekday 08:00 job in Berlin is added from its dialog (after the gateway refused a
// delivery target, with nothing lost from the form), listed with its next run, run now, its
// history shows the model's answer, then it is switched off and removed.
import { check, env, scenario, shot } from "./lib.mjs";

const answer = process.env.HEARTH_E2E_ANSWER ?? "";
check(answer, "HEARTH_E2E_ANSWER is not set: run this scenario through tests/integration/browser.rs");

await scenario("cron", async ({ page: open }) => {
  const page = await open();
  await page.goto(env.url);
  await page.getByRole("link", { name: "Cron" }).click();
  await page.getByRole("heading", { name: "Cron", level: 1 }).waitFor();
  await page.getByText("No jobs yet").waitFor();
  await page.getByRole("region", { name: "Heartbeat" }).getByText("agents.defaults.heartbeat.every").waitFor();

  // The dialog reads the expression out as it is typed.
  await page.getByRole("button", { name: "Add job" }).click();
  const add = page.getByRole("dialog", { name: "Add a job" });
  await add.waitFor();
  await add.getByLabel("Name", { exact: true }).fill("Morning briefing");
  check(await add.getByRole("radio", { name: "Cron", exact: true }).isChecked(), "a cron expression is the default kind");
  const expr = add.getByLabel("Cron expression");
  await expr.fill("0 8 * *");
  await add.getByText(/has 4 fields/).waitFor();
  await expr.fill("0 8 * * 1-5");
  await add.getByText("weekdays at 08:00", { exact: true }).waitFor();
  await add.getByLabel("Time zone").fill("Europe/Berlin");
  await add.getByLabel("Prompt").fill("Give me my morning briefing.");
  await shot(page, "cron-add-dialog");

  // A target the browser cannot judge: the gateway's problem lands next to the field.
  await add.getByRole("radio", { name: "To a chat" }).check();
  await add.getByLabel("Chat", { exact: true }).fill("fax:123456");
  await add.getByRole("button", { name: "Save" }).click();
  const refusal = add.getByRole("alert");
  await refusal.waitFor();
  check(/fax/.test(await refusal.innerText()), `the gateway's problem is shown: ${await refusal.innerText()}`);
  check((await add.getByLabel("Name", { exact: true }).inputValue()) === "Morning briefing", "the name is kept");
  check((await expr.inputValue()) === "0 8 * * 1-5", "the expression is kept");
  check((await add.getByLabel("Prompt").inputValue()) === "Give me my morning briefing.", "the prompt is kept");
  const chat = add.getByLabel("Chat", { exact: true });
  check((await chat.getAttribute("aria-invalid")) === "true", "the target is marked");
  check(await chat.evaluate((el) => el === document.activeElement), "focus is on the field with the problem");
  check(/not a channel/.test(await add.locator("#cj-deliver-err").innerText()), "the problem is next to its field");
  await shot(page, "cron-add-refused");
  await add.getByRole("radio", { name: "Nowhere: keep it in the history" }).check();
  await add.getByRole("button", { name: "Save" }).click();
  await add.waitFor({ state: "hidden" });

  // Listed with its schedule in words, its zone and a next run.
  const table = page.getByRole("table", { name: "Jobs" });
  const row = table.getByRole("row").filter({ hasText: "Morning briefing" });
  await row.waitFor();
  const rowText = await row.innerText();
  check(/weekdays at 08:00/.test(rowText), `the schedule in words: ${rowText}`);
  check(/0 8 \* \* 1-5/.test(rowText) && /Europe\/Berlin/.test(rowText), `the schedule as written, in its zone: ${rowText}`);
  check(/in \d+ (min|h|days?)/.test(rowText), `a next run: ${rowText}`);
  check(/never/.test(rowText), `not run yet: ${rowText}`);
  await shot(page, "cron-listed");

  // Run now: the outcome comes from the `cron` event; the history has the answer.
  await page.getByRole("button", { name: "Run now: Morning briefing" }).click();
  await page.getByRole("status").filter({ hasText: "Morning briefing ran" }).waitFor({ timeout: 30_000 });
  await row.getByText("completed").waitFor();
  await page.getByRole("button", { name: "History of Morning briefing" }).click();
  const history = page.getByRole("region", { name: "History of Morning briefing" });
  const fires = history.getByRole("table", { name: "Fires" });
  await fires.getByText("manual").waitFor();
  const fireText = await fires.innerText();
  check(/completed/.test(fireText), `the fire completed: ${fireText}`);
  const firstLine = answer.split("\n")[0];
  await fires.getByText(firstLine, { exact: false }).first().click();
  await fires.getByText(answer.split("\n").pop()).waitFor();
  await shot(page, "cron-history");

  // Off: no next run; the toggle says so.
  const toggle = row.getByRole("checkbox", { name: "Enabled: Morning briefing" });
  check(await toggle.isChecked(), "a new job is on");
  await toggle.uncheck();
  await page.getByRole("status").filter({ hasText: "Morning briefing is off" }).waitFor();
  check(!(await toggle.isChecked()), "the job is off");
  check(!/in \d+ (min|h|days?)/.test(await row.innerText()), `no next run while off: ${await row.innerText()}`);

  // Edit keeps the job's values.
  await page.getByRole("button", { name: "Edit Morning briefing" }).click();
  const edit = page.getByRole("dialog", { name: "Edit Morning briefing" });
  await edit.waitFor();
  check((await edit.getByLabel("Time zone").inputValue()) === "Europe/Berlin", "the zone is loaded");
  check(!(await edit.getByRole("checkbox", { name: "Enabled" }).isChecked()), "the job is loaded as off");
  await edit.getByRole("button", { name: "Cancel" }).click();
  await edit.waitFor({ state: "hidden" });

  // Removed, after a confirmation.
  await page.getByRole("button", { name: "Remove Morning briefing" }).click();
  const confirm = page.getByRole("dialog", { name: "Remove Morning briefing?" });
  await confirm.getByRole("button", { name: "Remove job" }).click();
  await confirm.waitFor({ state: "hidden" });
  await page.getByText("No jobs yet").waitFor();
  await history.waitFor({ state: "detached" });
});
