// Visitor identity in Chromium: the demo page plays the customer site whose backend
// signs its logged-in user (`/demo?user=ann`). A signed-in user's dialog follows them
// from one browser to another (two contexts: two devices), operators see the verified
// name, earlier conversations are listed and readable, an anonymous visitor sees none
// of it, and the token never stays in the frame's address.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import {
  launchBrowser, startServer, recordProblems, withArtifacts, openWidget, openConsole,
  operatorToken, messageTexts,
} from "./harness.mjs";

/** @type {import("playwright-core").Browser} */
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Sends a visitor message from a widget and waits until it is stored. */
async function say(chat, text) {
  await chat.locator(".rx-input").fill(text);
  await chat.locator(".rx-input").press("Enter");
  await chat.locator(".rx-msg[data-sender=visitor][data-state=sent]", { hasText: text }).waitFor();
}

test("a signed-in user's dialog follows them to another browser and operators see who it is", async () => {
  const server = await startServer();
  const laptop = await browser.newContext();
  const phone = await browser.newContext();
  const stranger = await browser.newContext();
  const operator = await browser.newContext();
  try {
    await withArtifacts("identity-devices", [laptop, phone, stranger, operator], async () => {
      const first = await laptop.newPage();
      const problems = recordProblems(first);
      const onLaptop = await openWidget(first, `${server.base}/demo?user=ann`);
      await say(onLaptop.chat, "Where is my teapot order?");
      // The token rode in the frame's fragment and was cleared at once.
      const frameUrl = first.frames().find((f) => f.url().includes("/widget/frame"))?.url() || "";
      assert.ok(frameUrl && !frameUrl.includes("identity"), frameUrl);

      // Another browser, the same user: the same dialog, with the message.
      const second = await phone.newPage();
      const onPhone = await openWidget(second, `${server.base}/demo?user=ann`);
      assert.equal(onPhone.dialogId, onLaptop.dialogId);
      await onPhone.chat.getByText("Where is my teapot order?").waitFor();
      // Both are live on one dialog: a message from the phone reaches the laptop.
      await say(onPhone.chat, "Sent from my phone");
      await onLaptop.chat.getByText("Sent from my phone").waitFor();

      // An anonymous visitor gets a dialog of their own.
      const third = await stranger.newPage();
      const anonymous = await openWidget(third, `${server.base}/demo`);
      assert.notEqual(anonymous.dialogId, onLaptop.dialogId);
      assert.ok(!(await messageTexts(anonymous.chat)).includes("Where is my teapot order?"));

      // The console shows the verified name in the inbox and the dialog.
      const console = await operator.newPage();
      await openConsole(console, server.base);
      const row = console.locator(`#dialogs li[data-dialog-id="${onLaptop.dialogId}"]`);
      await row.locator("[data-testid=row-visitor]", { hasText: "Ann" }).waitFor();
      assert.equal(await console.locator(`#dialogs li[data-dialog-id="${anonymous.dialogId}"] [data-testid=row-visitor]`).count(), 0);
      await row.click();
      await console.locator("[data-testid=visitor-verified]", { hasText: "ann@demo.replyx.local" }).waitFor();
      assert.deepEqual(problems, [], "widget page errors");
    });
  } finally {
    for (const c of [laptop, phone, stranger, operator]) await c.close();
    await server.stop();
  }
});

test("earlier conversations of a signed-in user are listed and readable on a new device", async () => {
  const server = await startServer();
  const laptop = await browser.newContext();
  const phone = await browser.newContext();
  try {
    await withArtifacts("identity-earlier", [laptop, phone], async () => {
      const first = await laptop.newPage();
      const old = await openWidget(first, `${server.base}/demo?user=bob`);
      await say(old.chat, "Do you ship to Norway?");
      await old.chat.locator(".rx-earlier").waitFor({ state: "hidden" });
      const token = await operatorToken(server.base);
      const closed = await fetch(`${server.base}/api/dialogs/${old.dialogId}/handoff`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ action: "close" }),
      });
      assert.equal(closed.status, 201, await closed.text());

      // A week later on the phone: a new dialog, and the old one under "Earlier".
      const second = await phone.newPage();
      const problems = recordProblems(second);
      const now = await openWidget(second, `${server.base}/demo?user=bob`);
      assert.notEqual(now.dialogId, old.dialogId);
      const earlier = now.chat.getByTestId("earlier-open");
      await earlier.waitFor();
      await earlier.click();
      const item = now.chat.locator(`.rx-dialog[data-dialog-id="${old.dialogId}"]`);
      await item.waitFor();
      await item.click();
      await now.chat.locator(".rx-transcript .rx-msg", { hasText: "Do you ship to Norway?" }).waitFor();
      await now.chat.getByTestId("earlier-back").click();
      await now.chat.getByTestId("earlier-back").click();
      await now.chat.locator(".rx-history").waitFor({ state: "hidden" });
      // The current dialog still takes messages.
      await say(now.chat, "Still there?");
      assert.deepEqual(problems, [], "widget page errors");
      await second.screenshot({ path: "e2e/artifacts/widget-earlier.png" });
    });
  } finally {
    await laptop.close();
    await phone.close();
    await server.stop();
  }
});
