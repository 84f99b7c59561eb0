// End-to-end tests in Debian's Chromium against real `replyx` servers: the widget and
// the console as people use them, and the bugs that must never come back.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import {
  launchBrowser, startServer, recordProblems, withArtifacts, openWidget, openConsole,
  operatorToken, operatorSays, messageTexts,
} from "./harness.mjs";

/** @type {import("playwright-core").Browser} */
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test("widget connects, gets the bot's and an operator's replies live, without errors", async () => {
  const server = await startServer();
  const visitor = await browser.newContext();
  const operator = await browser.newContext();
  try {
    await withArtifacts("live-messages", [visitor, operator], async () => {
      const page = await visitor.newPage();
      const problems = recordProblems(page);
      const { chat, dialogId } = await openWidget(page, `${server.base}/demo`);
      await chat.locator(".rx-input").fill("What is the price?");
      await chat.locator(".rx-input").press("Enter");
      await chat.locator(".rx-msg[data-sender=visitor][data-state=sent]").waitFor();
      await chat.getByText("Plans start at $29").waitFor();

      const console = await operator.newPage();
      const consoleProblems = recordProblems(console);
      await openConsole(console, server.base);
      await console.locator(`#dialogs li[data-dialog-id="${dialogId}"]`).click();
      await console.locator("[data-testid=dialog-state][data-state=live]").waitFor();
      await console.fill(".reply textarea", "Hello from the console");
      await console.click(".reply button");
      await chat.locator(".rx-msg[data-sender=operator]", { hasText: "Hello from the console" }).waitFor();

      assert.deepEqual(await messageTexts(chat), [
        "Hi! I'm the ReplyX demo assistant. Ask me about prices, delivery or opening hours, or type \"operator\" to talk to a human.",
        "What is the price?",
        "Plans start at $29 per month; the first 14 days are free.",
        "Hello from the console",
      ]);
      assert.deepEqual(problems, [], "widget page errors");
      assert.deepEqual(consoleProblems, [], "console page errors");
      await page.screenshot({ path: "e2e/artifacts/widget.png" });
      await console.screenshot({ path: "e2e/artifacts/console.png" });
    });
  } finally {
    await visitor.close();
    await operator.close();
    await server.stop();
  }
});

test("reloading never adds a second welcome and shows the same history", async () => {
  const server = await startServer();
  const visitor = await browser.newContext();
  try {
    await withArtifacts("reload-welcome", [visitor], async () => {
      const page = await visitor.newPage();
      for (let i = 0; i < 5; i += 1) {
        const { chat } = await openWidget(page, `${server.base}/demo`);
        const texts = await messageTexts(chat);
        assert.equal(texts.length, 1, `reload ${i}: ${texts}`);
        assert.match(texts[0], /^Hi! I'm the ReplyX demo assistant/);
      }
      const { chat } = await openWidget(page, `${server.base}/demo`);
      await chat.locator(".rx-input").fill("delivery?");
      await chat.locator(".rx-input").press("Enter");
      await chat.getByText("We ship within 2 business days").waitFor();
      const history = await messageTexts(chat);
      for (let i = 0; i < 3; i += 1) {
        const again = await openWidget(page, `${server.base}/demo`);
        await again.chat.getByText("We ship within 2 business days").waitFor();
        assert.deepEqual(await messageTexts(again.chat), history);
      }
    });
  } finally {
    await visitor.close();
    await server.stop();
  }
});

test("after going offline and after a server restart, missed messages appear once, in order", async () => {
  let server = await startServer();
  const visitor = await browser.newContext();
  try {
    await withArtifacts("reconnect", [visitor], async () => {
      const page = await visitor.newPage();
      const { chat, dialogId } = await openWidget(page, `${server.base}/demo`);
      const token = await operatorToken(server.base);

      await visitor.setOffline(true);
      await chat.locator("[data-testid=connection-state][data-state=offline]").waitFor();
      for (const text of ["one", "two", "three"]) await operatorSays(server.base, token, dialogId, text);
      await visitor.setOffline(false);
      await chat.locator(".rx-msg", { hasText: "three" }).waitFor();
      await chat.locator("[data-testid=connection-state][data-state=live]").waitFor();
      assert.deepEqual((await messageTexts(chat)).slice(1), ["one", "two", "three"]);

      const { dir, port } = server;
      assert.equal(await server.stop(), 0, "the old process drains and exits 0");
      await chat.locator("[data-testid=connection-state][data-state=reconnecting]").waitFor();
      server = await startServer({ dir, port });
      await operatorSays(server.base, await operatorToken(server.base), dialogId, "after restart");
      await chat.locator(".rx-msg", { hasText: "after restart" }).waitFor({ timeout: 30000 });
      await chat.locator("[data-testid=connection-state][data-state=live]").waitFor();
      assert.deepEqual((await messageTexts(chat)).slice(1), ["one", "two", "three", "after restart"]);
    });
  } finally {
    await visitor.close();
    await server.stop();
  }
});

test("the console's inbox shows a new visitor's dialog live", async () => {
  const server = await startServer();
  const operator = await browser.newContext();
  const visitor = await browser.newContext();
  try {
    await withArtifacts("inbox-live", [operator, visitor], async () => {
      const console = await operator.newPage();
      await openConsole(console, server.base);
      assert.equal(await console.locator("#dialogs li[data-dialog-id]").count(), 0);
      const { dialogId } = await openWidget(await visitor.newPage(), `${server.base}/demo`);
      const row = console.locator(`#dialogs li[data-dialog-id="${dialogId}"]`);
      await row.waitFor();
      await row.getByText("Hi! I'm the ReplyX demo assistant", { exact: false }).waitFor();
    });
  } finally {
    await operator.close();
    await visitor.close();
    await server.stop();
  }
});

test("handoff: nobody online, then the console's operator gets the dialog, the bot stops, hand-back brings it back", async () => {
  const server = await startServer();
  const visitor = await browser.newContext();
  const operator = await browser.newContext();
  try {
    await withArtifacts("handoff", [visitor, operator], async () => {
      const page = await visitor.newPage();
      const { chat, dialogId } = await openWidget(page, `${server.base}/demo`);
      const say = async (/** @type {string} */ text) => {
        await chat.locator(".rx-input").fill(text);
        await chat.locator(".rx-input").press("Enter");
      };
      await say("I want a human please");
      await chat.getByText("Connecting you to an operator").waitFor();
      // Nobody is online: the visitor is told, and the assistant keeps answering.
      await chat.getByText("No operator is online right now", { exact: false }).first().waitFor();
      await chat.locator("[data-testid=queue]", { hasText: "No operator is online" }).waitFor();
      await say("price?");
      await chat.getByText("Plans start at $29").waitFor();

      // The operator opens the console: the demo assistant auto-assigns, so the
      // waiting dialog is theirs at once.
      const console = await operator.newPage();
      await openConsole(console, server.base);
      await chat.getByText("Demo Operator joined the conversation.").waitFor();
      await chat.locator("[data-testid=queue]").waitFor({ state: "hidden" });
      await console.locator("[data-tab=mine]").click();
      await console.locator(`#dialogs li[data-dialog-id="${dialogId}"]`).click();
      await console.locator("[data-testid=dialog-state][data-state=live]").waitFor();
      await say("price again?");
      await console.locator(".events li[data-sender=visitor]", { hasText: "price again?" }).waitFor();
      await console.fill(".reply textarea", "I can help with that");
      await console.press(".reply textarea", "Enter");
      await chat.getByText("I can help with that").waitFor();
      assert.equal(await chat.getByText("Plans start at $29").count(), 1, "the bot stayed silent with an operator");
      // The visitor has the reply on screen: the console shows it read.
      await console.locator(".events li[data-sender=operator][data-delivery=read]", { hasText: "I can help with that" }).waitFor();

      await console.click("[data-action=hand_back]");
      await chat.getByText("The assistant is back in the conversation.").waitFor();
      await say("price now?");
      await chat.getByText("Plans start at $29").nth(1).waitFor();

      for (const notice of ["Connecting you to an operator", "joined the conversation", "The assistant is back"]) {
        assert.equal(await chat.locator(".rx-msg[data-sender=system]", { hasText: notice }).count(), 1, notice);
        await console.locator(".events li[data-sender=system]", { hasText: notice }).waitFor();
        assert.equal(await console.locator(".events li[data-sender=system]", { hasText: notice }).count(), 1, notice);
      }
    });
  } finally {
    await visitor.close();
    await operator.close();
    await server.stop();
  }
});

test("site mode on a page whose origin is not allowed shows an error and connects nothing", async () => {
  const server = await startServer();
  const visitor = await browser.newContext();
  try {
    await withArtifacts("site-forbidden", [visitor], async () => {
      const token = await operatorToken(server.base);
      const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
      const created = await (await fetch(`${server.base}/api/assistants`, {
        method: "POST", headers,
        body: JSON.stringify({ name: "Elsewhere", welcome_message: "Hi", allowed_domains: ["shop.example"] }),
      })).json();
      const { site_token: siteToken } = await (await fetch(`${server.base}/api/assistants/${created.id}/site-token`, { method: "POST", headers })).json();
      const page = await visitor.newPage();
      const sockets = [];
      page.on("websocket", (ws) => sockets.push(ws.url()));
      await page.route(`${server.base}/foreign-shop`, (route) =>
        route.fulfill({
          contentType: "text/html",
          body: `<!doctype html><html lang="en"><head><link rel="icon" href="data:,"></head><body><h1>Not an allowed shop</h1>
            <script src="${server.base}/widget.js" data-site-token="${siteToken}" async></script></body></html>`,
        }),
      );
      await page.goto(`${server.base}/foreign-shop`);
      await page.getByTestId("replyx-launcher").click();
      await page.locator("[data-testid=connection-state][data-state=error]").waitFor();
      await page.getByText("This chat is not available on this site.").waitFor();
      assert.deepEqual(sockets, [], "no socket was opened");
    });
  } finally {
    await visitor.close();
    await server.stop();
  }
});

test("the widget follows the page language", async () => {
  const server = await startServer();
  const visitor = await browser.newContext();
  try {
    const page = await visitor.newPage();
    await page.route(`${server.base}/ru-shop`, (route) =>
      route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><html lang="ru"><head><link rel="icon" href="data:,"></head><body>
          <script src="${server.base}/widget.js" data-assistant-id="${server.assistantId}" async></script></body></html>`,
      }),
    );
    const { chat } = await openWidget(page, `${server.base}/ru-shop`);
    await chat.getByText("В сети").waitFor();
    assert.equal(await chat.locator(".rx-input").getAttribute("placeholder"), "Введите сообщение…");
  } finally {
    await visitor.close();
    await server.stop();
  }
});

test("sends go on the live socket once; a refused or unanswered one is retried with the same client_msg_id", async () => {
  const server = await startServer();
  const visitor = await browser.newContext();
  try {
    await withArtifacts("sending", [visitor], async () => {
      // Between the widget and the server: records every `message.send` and, when told,
      // refuses the next one (as a store outage would) or swallows it (a dying link).
      /** @type {any[]} */
      const socketSends = [];
      /** @type {"pass" | "refuse" | "swallow"} */
      let nextSend = "pass";
      await visitor.routeWebSocket(/\/ws\/widget\//, (ws) => {
        const upstream = ws.connectToServer();
        ws.onMessage((message) => {
          const frame = JSON.parse(String(message));
          if (frame.type === "message.send") {
            socketSends.push(frame);
            const mode = nextSend;
            nextSend = "pass";
            if (mode === "refuse") {
              ws.send(JSON.stringify({ type: "error", code: "unavailable", message: "try again", client_msg_id: frame.client_msg_id, retry_after: 1 }));
              return;
            }
            if (mode === "swallow") return;
          }
          upstream.send(message);
        });
      });
      const page = await visitor.newPage();
      /** @type {string[]} */
      const posts = [];
      let failNextPost = false;
      await page.route("**/messages", async (route) => {
        posts.push(JSON.parse(route.request().postData() || "{}").client_msg_id);
        if (failNextPost) {
          failNextPost = false;
          await route.abort("connectionreset");
        } else {
          await route.continue();
        }
      });
      const { chat, dialogId } = await openWidget(page, `${server.base}/demo`);
      const input = chat.locator(".rx-input");
      const sent = (text) => chat.locator(".rx-msg[data-state=sent]", { hasText: text }).waitFor();
      const failed = (text) => chat.locator(".rx-msg[data-state=failed]", { hasText: text });
      const keysOf = (text) => socketSends.filter((f) => f.text === text).map((f) => f.client_msg_id);

      await input.fill("just once");
      await input.press("Enter");
      await input.press("Enter");
      await chat.locator(".rx-send").dblclick();
      await sent("just once");
      assert.equal(keysOf("just once").length, 1, "one send on the socket");
      assert.deepEqual(posts, [], "nothing went over HTTP while the socket was live");

      nextSend = "refuse";
      await input.fill("retry me");
      await input.press("Enter");
      await failed("retry me").waitFor();
      await failed("retry me").click();
      await sent("retry me");
      const retried = keysOf("retry me");
      assert.equal(retried.length, 2);
      assert.equal(retried[0], retried[1], "the retry reuses the client_msg_id");

      // No answer on the socket: the POST takes over with the same key; when that
      // fails too, the visitor's retry goes on the socket again, still the same key.
      nextSend = "swallow";
      failNextPost = true;
      await input.fill("no answer");
      await input.press("Enter");
      await failed("no answer").waitFor();
      await failed("no answer").click();
      await sent("no answer");
      const unanswered = keysOf("no answer");
      assert.equal(unanswered.length, 2);
      assert.deepEqual(posts, [unanswered[0]], "one POST, with the socket send's key");
      assert.equal(unanswered[0], unanswered[1]);

      const token = await operatorToken(server.base);
      const events = await (await fetch(`${server.base}/api/dialogs/${dialogId}/events`, { headers: { authorization: `Bearer ${token}` } })).json();
      const visitorTexts = events.events.filter((e) => e.message && e.message.sender === "visitor").map((e) => e.message.text);
      assert.deepEqual(visitorTexts, ["just once", "retry me", "no answer"], "each stored once");
      assert.equal(await chat.locator(".rx-msg[data-sender=visitor]").count(), 3);
    });
  } finally {
    await visitor.close();
    await server.stop();
  }
});

test("the launcher shows unread replies while the chat is closed", async () => {
  const server = await startServer();
  const visitor = await browser.newContext();
  try {
    await withArtifacts("unread-badge", [visitor], async () => {
      const page = await visitor.newPage();
      const { chat, dialogId } = await openWidget(page, `${server.base}/demo`);
      await page.getByTestId("replyx-launcher").click();
      await page.getByTestId("replyx-frame").waitFor({ state: "hidden" });
      await chat.locator("[data-testid=connection-state][data-state=live]").waitFor({ state: "attached" });
      await operatorSays(server.base, await operatorToken(server.base), dialogId, "are you there?");
      const badge = page.getByTestId("replyx-badge");
      await badge.waitFor();
      assert.equal(await badge.textContent(), "1");
      await page.getByTestId("replyx-launcher").click();
      await badge.waitFor({ state: "hidden" });
    });
  } finally {
    await visitor.close();
    await server.stop();
  }
});
