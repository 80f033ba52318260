// Without a token the UI asks for one, a wrong one is refused, and nothing is shown meanwhile.
import { check, env, scenario, shot } from "./lib.mjs";

await scenario("auth", async ({ page: open }) => {
  const page = await open();
  // The HTTP API refuses a call without the token.
  const res = await page.request.get(env.base + "/v1/models");
  check(res.status() === 401, `GET /v1/models without a token is refused (${res.status()})`);

  await page.goto(env.base + "/");
  const token = page.getByLabel("Gateway token");
  await token.waitFor();
  check((await page.getByRole("link", { name: "Sessions" }).count()) === 0, "no navigation before sign-in");
  await token.fill("not-the-token");
  await page.getByRole("button", { name: "Connect" }).click();
  await page.getByRole("alert").waitFor();
  await shot(page, "auth-refused");

  // A gateway address in the query string is ignored (CVE-2026-25253): the page only ever
  // talks to its own origin.
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  await page.goto(env.base + "/?gatewayUrl=ws://evil.example:1/&url=ws://evil.example:1/");
  await page.getByLabel("Gateway token").waitFor();
  await page.getByLabel("Gateway token").fill("still-wrong");
  await page.getByRole("button", { name: "Connect" }).click();
  await page.getByRole("alert").waitFor();
  const host = new URL(env.base).host;
  check(sockets.length > 0, "the page opened a WebSocket");
  check(
    sockets.every((u) => new URL(u).host === host),
    `every WebSocket went to the page's own origin: ${sockets.join(", ")}`,
  );
});
