// Agents: an agent is added from its dialog, a Telegram person is bound to it, "Explain a
// route" shows that binding winning for them (and the default agent for someone else), and
// removing the agent, refused while the binding names it, goes through with its bindings.
import { check, env, scenario, shot } from "./lib.mjs";

await scenario("agents", async ({ page: open }) => {
  const page = await open();
  await page.goto(env.url);
  await page.getByRole("link", { name: "Agents" }).click();
  await page.getByRole("heading", { name: "Agents", level: 1 }).waitFor();

  // A new agent, with a model from models.list.
  await page.getByRole("button", { name: "Add agent" }).click();
  const add = page.getByRole("dialog", { name: "Add an agent" });
  await add.waitFor();
  await add.getByLabel("Id", { exact: true }).fill("Ops!");
  await add.getByRole("button", { name: "Save" }).click();
  check(/lowercase letters/.test(await add.innerText()), "a bad id is refused before anything is sent");
  await add.getByLabel("Id", { exact: true }).fill("ops");
  await add.getByLabel("Name", { exact: true }).fill("Operations");
  await add.getByLabel("Model").selectOption("fake/fake-model");
  await add.getByLabel("Emoji").fill("🛠");
  await add.getByRole("button", { name: "Save" }).click();
  await add.waitFor({ state: "hidden" });
  const card = page.getByRole("region", { name: "Operations" });
  await card.waitFor();
  const cardText = await card.innerText();
  check(/fake\/fake-model/.test(cardText), `the agent shows its model: ${cardText}`);
  check(/Follow-up/.test(cardText), `the agent shows its queue mode: ${cardText}`);
  await page.getByRole("status").filter({ hasText: "Added agent ops" }).waitFor();

  // A binding: the Telegram person 4242 goes to ops.
  await page.getByRole("button", { name: "Add binding" }).click();
  const bind = page.getByRole("dialog", { name: "Add a binding" });
  await bind.waitFor();
  await bind.getByLabel("Channel").selectOption("telegram");
  await bind.getByLabel("Peer kind").selectOption("direct");
  await bind.getByLabel("Peer id").fill("4242");
  await bind.getByLabel("Agent", { exact: true }).selectOption("ops");
  const shared = bind.getByLabel("Shared memory");
  check(await shared.isDisabled(), "shared memory waits for a team or guild id");
  await bind.getByLabel("Team id").fill("T1");
  check(await shared.isEnabled(), "a team id offers shared memory");
  await bind.getByLabel("Team id").fill("");
  await shot(page, "agents-add-binding");
  await bind.getByRole("button", { name: "Save" }).click();
  await bind.waitFor({ state: "hidden" });
  const table = page.getByRole("table", { name: "Bindings" });
  await table.getByText("Telegram · person 4242").waitFor();
  const row = table.getByRole("row").filter({ hasText: "person 4242" });
  check(/Peer/.test(await row.innerText()), `the binding is in the peer tier: ${await row.innerText()}`);
  await card.getByText("1", { exact: true }).waitFor();

  // Explain a route: the bound person gets ops through the binding.
  const form = page.getByRole("form", { name: "Explain a route" });
  await form.getByLabel("Channel").selectOption("telegram");
  await form.getByLabel("Peer kind").selectOption("direct");
  await form.getByLabel("Peer id", { exact: true }).fill("4242");
  await form.getByLabel("Sender id").fill("4242");
  await form.getByRole("button", { name: "Explain" }).click();
  const route = page.getByRole("region", { name: "Route", exact: true });
  await route.getByRole("heading", { name: /wins/ }).waitFor();
  const explained = await route.innerText();
  check(/telegram-peer-4242/.test(explained), `the binding is named: ${explained}`);
  check(/Operations \(ops\)/.test(explained), `ops answers: ${explained}`);
  check(/agent:ops:/.test(explained), `in an ops session: ${explained}`);
  const candidates = route.getByRole("table", { name: "Candidates" });
  check(/winner/.test(await candidates.innerText()), "the candidate that won is marked");
  await shot(page, "agents-route-explained");

  // Someone else: no binding matches, the default agent answers.
  await form.getByLabel("Peer id", { exact: true }).fill("777");
  await form.getByLabel("Sender id").fill("777");
  await form.getByRole("button", { name: "Explain" }).click();
  await route.getByRole("heading", { name: /No binding matches/ }).waitFor();
  check(/agent:main:/.test(await route.innerText()), "the default agent's session");

  // Removing ops is refused while the binding names it; "remove with its bindings" does it.
  await page.getByRole("button", { name: "Remove agent ops" }).click();
  await page.getByRole("dialog", { name: "Remove agent ops?" }).getByRole("button", { name: "Remove agent" }).click();
  const conflict = page.getByRole("dialog", { name: "Agent ops has bindings" });
  await conflict.waitFor();
  await shot(page, "agents-remove-conflict");
  await conflict.getByRole("button", { name: "Remove with its bindings" }).click();
  await conflict.waitFor({ state: "hidden" });
  await card.waitFor({ state: "detached" });
  await page.getByText("No bindings: every chat goes to").waitFor();
});
