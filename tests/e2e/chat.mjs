// Chat: a streamed answer in Markdown after a tool call shown as a card.
import { check, env, scenario, shot } from "./lib.mjs";

await scenario("chat", async ({ page: open }) => {
  const page = await open();
  await page.goto(env.url);
  await page.getByRole("link", { name: "Chat" }).click();
  const box = page.getByLabel("Message");
  await box.fill("When was the boiler serviced?");
  await box.press("Enter");
  // The answer streams in, rendered as Markdown.
  const conversation = page.getByRole("log", { name: "Conversation" });
  await conversation.locator("strong", { hasText: "boiler" }).waitFor();
  await page.getByText("serviced in March.", { exact: false }).last().waitFor();
  // The tool call is a card with its name and arguments.
  const card = conversation.locator("details.tool").first();
  await card.waitFor();
  // The streamed message is replaced by the stored one when the turn ends, which can close a
  // card opened in between: open it until it stays open.
  let cardText = "";
  for (let attempt = 0; attempt < 10 && !cardText.includes("NOTES.md"); attempt++) {
    if (!(await card.evaluate((el) => el.open))) await card.locator("summary").click();
    await page.waitForTimeout(100);
    cardText = await card.innerText();
  }
  check(cardText.includes("read"), `the card names the tool: ${cardText}`);
  check(cardText.includes("NOTES.md"), `the card shows the arguments: ${cardText}`);
  await shot(page, "chat-tool-call");
  // The answer survives a reload (it is the stored transcript, not only the stream).
  await page.reload();
  await page.getByRole("link", { name: "Chat" }).click();
  await page.getByText("serviced in March.", { exact: false }).last().waitFor();
  // The stored result keeps the tool's duration.
  const stored = page.getByRole("log", { name: "Conversation" }).locator("details.tool summary").first();
  await stored.waitFor();
  const summary = await stored.innerText();
  check(/\d+(\.\d+)?\s*(ms|s)\b/.test(summary), `the stored tool card shows its duration: ${summary}`);
});
