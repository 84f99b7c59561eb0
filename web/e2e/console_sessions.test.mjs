// Operator sessions in the console: sockets open with single-use tickets (never a token
// in the URL), an admin manages operators, and an ended session (disabled by an admin,
// or logged out) takes the console back to the login form at once.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startServer, withArtifacts, openConsole } from "./harness.mjs";

/** @type {import("playwright-core").Browser} */
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const AGENT = { email: "agent@example.test", password: "agent password 1" };

/** Logs into the console as `who` and waits for the live inbox. */
async function logIn(/** @type {import("playwright-core").Page} */ page, base, who) {
  await page.goto(`${base}/console`);
  await page.fill("input[name=email]", who.email);
  await page.fill("input[name=password]", who.password);
  await page.click("form#login button");
  await page.locator("[data-testid=inbox-state][data-state=live]").waitFor();
}

test("an admin adds an agent, and disabling the agent ends their console at once", async () => {
  const server = await startServer();
  const admin = await browser.newContext();
  const agent = await browser.newContext();
  try {
    await withArtifacts("console-disable-agent", [admin, agent], async () => {
      const adminPage = await admin.newPage();
      await openConsole(adminPage, server.base);
      await adminPage.getByTestId("me").filter({ hasText: "(admin)" }).waitFor();
      await adminPage.click("[data-action=operators]");
      const add = adminPage.locator("#operators form.add");
      await add.locator("input[name=name]").fill("Agent Smith");
      await add.locator("input[name=email]").fill(AGENT.email);
      await add.locator("input[name=password]").fill(AGENT.password);
      await add.locator("select[name=role]").selectOption("agent");
      await add.locator("button[type=submit]").click();
      const row = adminPage.locator(`#operators tr[data-email="${AGENT.email}"]`);
      await row.waitFor();

      const agentPage = await agent.newPage();
      /** @type {string[]} */
      const sockets = [];
      agentPage.on("websocket", (ws) => sockets.push(ws.url()));
      await logIn(agentPage, server.base, AGENT);
      await agentPage.getByTestId("me").filter({ hasText: "(agent)" }).waitFor();
      assert.equal(await agentPage.locator("[data-action=operators]").isHidden(), true);
      assert.ok(sockets.length >= 1, "the inbox socket opened");
      for (const url of sockets) {
        const query = new URL(url).searchParams;
        assert.ok(query.get("ticket"), `a ticket in ${url}`);
        assert.equal(query.get("token"), null, `no token in ${url}`);
      }

      await row.locator("[data-action=disable]").click();
      await adminPage.locator(`#operators tr[data-email="${AGENT.email}"][data-status=disabled]`).waitFor();
      // The agent's inbox socket is closed with 4001 by the session check; the console
      // shows the login form with the reason.
      await agentPage.locator("form#login").waitFor({ state: "visible" });
      await agentPage.locator("form#login .error").filter({ hasText: "session has ended" }).waitFor();
      assert.equal(await agentPage.locator("#app").isHidden(), true);
    });
  } finally {
    await admin.close();
    await agent.close();
    await server.stop();
  }
});

test("logging out ends the session on the server, not only in the page", async () => {
  const server = await startServer();
  const context = await browser.newContext();
  try {
    await withArtifacts("console-logout", [context], async () => {
      const page = await context.newPage();
      await openConsole(page, server.base);
      const token = await page.evaluate(() => sessionStorage.getItem("replyx:operator-token"));
      assert.ok(token);
      await page.click("[data-action=logout]");
      await page.locator("form#login").waitFor({ state: "visible" });
      const r = await fetch(`${server.base}/api/dialogs`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 401);
      assert.equal((await r.json()).error.code, "session_ended");
    });
  } finally {
    await context.close();
    await server.stop();
  }
});
