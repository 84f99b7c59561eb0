// Operators at work, as a support team would use the console in Chromium: two
// operators in two browsers, a queued dialog auto-assigned to the free one, a refused
// and then a real transfer, a canned response typed with /shortcut, notifications
// asked for politely and shown for a waiting visitor while the tab is hidden, a rating
// at close, the keyboard, the phone layout, and axe-core on the console and the widget.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  launchBrowser, startServer, withArtifacts, openWidget, operatorToken, recordProblems, ARTIFACTS,
} from "./harness.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

/** @type {import("playwright-core").Browser} */
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/**
 * Runs axe-core in a page or frame; fails on serious or critical violations.
 * @param {import("playwright-core").Page | import("playwright-core").Frame} target
 * @param {string} what
 */
async function accessible(target, what) {
  await target.addScriptTag({ path: AXE });
  const result = await target.evaluate(() => /** @type {any} */ (window).axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((/** @type {any} */ v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((/** @type {any} */ v) => `${v.id}: ${v.help} (${v.nodes.map((/** @type {any} */ n) => n.target.join(" ")).join(", ")})`),
    [],
    `${what}: serious or critical accessibility violations`,
  );
}

/**
 * Records the notifications a page shows and lets the test say whether the tab is
 * hidden: Chromium's headless Notification permission cannot be asked for, so the
 * page's Notification is a recorder answering "granted" when asked.
 * @param {import("playwright-core").BrowserContext} context
 */
async function recordNotifications(context) {
  await context.addInitScript(() => {
    const shown = [];
    /** @type {any} */ (window).__shown = shown;
    /** @type {any} */ (window).__hidden = false;
    class RecordedNotification {
      static permission = "default";
      static async requestPermission() {
        RecordedNotification.permission = "granted";
        return "granted";
      }
      /** @param {string} title @param {any} options */
      constructor(title, options) {
        shown.push({ title, body: options && options.body });
      }
      close() {}
    }
    /** @type {any} */ (window).Notification = RecordedNotification;
    Object.defineProperty(document, "visibilityState", {
      get: () => (/** @type {any} */ (window).__hidden ? "hidden" : "visible"),
    });
  });
}

/**
 * Logs into the console as `email` and waits for the live inbox.
 * @param {import("playwright-core").Page} page
 */
async function login(page, base, email, password) {
  await page.goto(`${base}/console`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await page.click("form#login button");
  await page.locator("[data-testid=inbox-state][data-state=live]").waitFor();
}

async function api(base, token, method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** @param {import("playwright-core").FrameLocator} chat @param {string} text */
async function say(chat, text) {
  await chat.locator(".rx-input").fill(text);
  await chat.locator(".rx-input").press("Enter");
}

test("two operators: auto-assignment, transfer, canned response, notification, rating", async () => {
  const server = await startServer();
  const token = await operatorToken(server.base);
  const me = (await api(server.base, token, "GET", "/api/auth/me")).body;
  const bo = await api(server.base, token, "POST", "/api/operators", {
    email: "bo@replyx.local", name: "Bo", password: "bo-password-1", role: "agent",
  });
  assert.equal(bo.status, 201);
  // Ann (the demo operator) may hold one dialog at a time.
  assert.equal((await api(server.base, token, "PATCH", `/api/operators/${me.id}`, { max_dialogs: 1 })).status, 200);
  // bypassCSP: axe-core is injected as a script, which the console's policy forbids.
  const annCtx = await browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
  const boCtx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const v1Ctx = await browser.newContext();
  const v2Ctx = await browser.newContext({ bypassCSP: true });
  await recordNotifications(boCtx);
  try {
    await withArtifacts("operators-at-work", [annCtx, boCtx, v1Ctx, v2Ctx], async () => {
      const ann = await annCtx.newPage();
      const problems = recordProblems(ann);
      await login(ann, server.base, "demo@replyx.local", "replyx-demo");
      const boPage = await boCtx.newPage();
      await login(boPage, server.base, "bo@replyx.local", "bo-password-1");
      await ann.locator("#team li[data-status=online]", { hasText: "Bo" }).waitFor();
      await boPage.locator("#team li[data-status=online]", { hasText: "Demo Operator" }).waitFor();

      // Notifications: Bo turns them on (asked only after the click).
      await boPage.getByTestId("enable-notifications").click();
      await boPage.getByTestId("enable-notifications").waitFor({ state: "hidden" });

      // Bo steps away; the first visitor goes to Ann, who is then full.
      await boPage.getByTestId("my-presence").selectOption("away");
      await ann.locator("#team li[data-status=away]", { hasText: "Bo" }).waitFor();
      const v1 = await openWidget(await v1Ctx.newPage(), `${server.base}/demo`);
      await say(v1.chat, "I need an operator");
      await v1.chat.getByText("Demo Operator joined the conversation.").waitFor();

      // Bo is back: the next visitor is his (Ann is full).
      await boPage.getByTestId("my-presence").selectOption("online");
      await ann.locator("#team li[data-status=online]", { hasText: "Bo" }).waitFor();
      const v2page = await v2Ctx.newPage();
      const v2 = await openWidget(v2page, `${server.base}/demo`);
      await say(v2.chat, "operator please");
      await v2.chat.getByText("Bo joined the conversation.").waitFor();
      // With his tab in the background, a message in his dialog reaches him.
      await boPage.evaluate(() => {
        /** @type {any} */ (window).__hidden = true;
      });
      await say(v2.chat, "are you there?");
      await boPage.waitForFunction(() => /** @type {any} */ (window).__shown.some((n) => n.body === "are you there?"));
      await boPage.evaluate(() => {
        /** @type {any} */ (window).__hidden = false;
      });
      assert.match(await boPage.title(), /^\(\d+\) ReplyX console$/, "the unread count is in the title");

      // Bo's "Mine" tab has it.
      await boPage.locator("[data-tab=mine]").click();
      const row = boPage.locator(`#dialogs li[data-dialog-id="${v2.dialogId}"]`);
      await row.click();
      await boPage.locator("[data-testid=dialog-state][data-state=live]").waitFor();

      // Ann manages a canned response; Bo types /thanks and sends it.
      await ann.locator("#account [data-action=canned]").click();
      await ann.locator("#canned input[name=shortcut]").fill("thanks");
      await ann.locator("#canned textarea[name=text]").fill("Thank you for waiting! Let me check that for you.");
      await ann.locator("#canned form.add button").click();
      await ann.locator("#canned [data-shortcut=thanks]").waitFor();
      await ann.locator("#canned [data-action=close]").click();
      const reply = boPage.locator(".reply textarea");
      await reply.fill("/tha");
      await boPage.locator(".suggestions li", { hasText: "/thanks" }).waitFor();
      await reply.press("Enter");
      assert.equal(await reply.inputValue(), "Thank you for waiting! Let me check that for you.");
      await reply.press("Enter");
      await v2.chat.getByText("Thank you for waiting! Let me check that for you.").waitFor();
      // Shift+Enter is a new line, not a send.
      await reply.fill("line one");
      await reply.press("Shift+Enter");
      await reply.type("line two");
      assert.equal(await reply.inputValue(), "line one\nline two");
      await reply.fill("");

      // Bo passes it to Ann: refused while she is full, done once she has room.
      const target = boPage.getByTestId("transfer-to");
      await target.selectOption({ label: "Demo Operator (online)" });
      await boPage.click("[data-action=transfer]");
      await boPage.locator("#dialog .error:not(:empty)").waitFor();
      await ann.locator("[data-tab=mine]").click();
      await ann.locator(`#dialogs li[data-dialog-id="${v1.dialogId}"]`).click();
      await ann.locator("[data-testid=dialog-state][data-state=live]").waitFor();
      await ann.keyboard.press("Alt+r");
      assert.equal(await ann.evaluate(() => document.activeElement?.id), "reply-text", "Alt+R: the reply box");
      await ann.click("#dialog [data-action=close]");
      await boPage.click("[data-action=transfer]");
      await v2.chat.getByText("Bo passed the conversation to Demo Operator.").waitFor();
      await ann.locator(`#dialogs li[data-dialog-id="${v2.dialogId}"]`).waitFor();

      // Ann closes it; the visitor rates it (asked only then); Ann sees the rating.
      const rating = v2.chat.getByTestId("rating");
      assert.equal(await rating.isVisible(), false, "no rating asked while the dialog is open");
      await ann.locator(`#dialogs li[data-dialog-id="${v2.dialogId}"]`).click();
      await ann.locator("[data-testid=dialog-state][data-state=live]").waitFor();
      await ann.click("#dialog [data-action=close]");
      await rating.waitFor();
      await rating.locator("label").nth(3).click();
      await rating.locator("textarea").fill("Quick and kind");
      await rating.locator("button[type=submit]").click();
      await rating.getByText("Thank you for your feedback!").waitFor();
      await ann.locator("[data-testid=rating]", { hasText: "4/5" }).waitFor();
      await ann.locator("[data-testid=rating]", { hasText: "Quick and kind" }).waitFor();

      // Keyboard: Alt+↓ moves to the next dialog, Alt+S focuses the search.
      await ann.locator("[data-tab=closed]").click();
      await ann.locator("#dialogs li[data-dialog-id]").first().click();
      const before = await ann.locator("#dialogs li[aria-selected=true]").getAttribute("data-dialog-id");
      await ann.keyboard.press("Alt+ArrowDown");
      const afterMove = await ann.locator("#dialogs li[aria-selected=true]").getAttribute("data-dialog-id");
      assert.notEqual(afterMove, before);
      await ann.keyboard.press("Alt+s");
      assert.equal(await ann.evaluate(() => document.activeElement?.id), "search");

      await accessible(ann, "console");
      await accessible(/** @type {import("playwright-core").Frame} */ (v2page.frames().find((f) => f.url().includes("/widget/frame"))), "widget");
      assert.deepEqual(problems.filter((p) => !/status of 409/.test(p) && !/http 409/.test(p)), [], "console page errors");
    });
  } finally {
    for (const c of [annCtx, boCtx, v1Ctx, v2Ctx]) await c.close();
    await server.stop();
  }
});

test("the console on a phone: the inbox and the dialog take turns", async () => {
  const server = await startServer();
  const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, bypassCSP: true });
  const visitorCtx = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true });
  try {
    await withArtifacts("console-phone", [phone, visitorCtx], async () => {
      const vpage = await visitorCtx.newPage();
      const v = await openWidget(vpage, `${server.base}/demo`);
      await say(v.chat, "how long is delivery?");
      await v.chat.getByText("We ship within 2 business days").waitFor();
      const page = await phone.newPage();
      await login(page, server.base, "demo@replyx.local", "replyx-demo");
      await page.locator(`#dialogs li[data-dialog-id="${v.dialogId}"]`).click();
      await page.locator("[data-testid=dialog-state][data-state=live]").waitFor();
      assert.equal(await page.locator(".inbox").isVisible(), false, "the dialog has the screen");
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `no sideways scrolling: ${width}px`);
      await page.locator("[data-action=back]").click();
      await page.locator(".inbox").waitFor();
      await accessible(page, "console on a phone");
    });
  } finally {
    await phone.close();
    await visitorCtx.close();
    await server.stop();
  }
});

test("screenshots of the console and the widget, desktop and phone", async () => {
  const dir = process.env.REPLYX_SCREENSHOTS_DIR || join(ARTIFACTS, "screens");
  mkdirSync(dir, { recursive: true });
  const server = await startServer();
  const token = await operatorToken(server.base);
  const desk = await browser.newContext({ viewport: { width: 1440, height: 860 } });
  const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true });
  const visitorCtx = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  try {
    await withArtifacts("screenshots", [desk, phone, visitorCtx], async () => {
      const canned = await api(server.base, token, "GET", "/api/assistants");
      const assistant = canned.body.assistants.find((/** @type {any} */ a) => a.name === "ReplyX demo assistant").id;
      await api(server.base, token, "POST", `/api/assistants/${assistant}/canned-responses`, { shortcut: "hello", text: "Hello! How can I help you today?" });
      const vpage = await visitorCtx.newPage();
      const v = await openWidget(vpage, `${server.base}/demo?user=ann`);
      await say(v.chat, "Hi, is the blue teapot in stock?");
      await v.chat.getByText("I'm a demo bot", { exact: false }).waitFor();
      await say(v.chat, "Can I talk to an operator?");
      await v.chat.getByText("Connecting you to an operator").waitFor();
      const console = await desk.newPage();
      await login(console, server.base, "demo@replyx.local", "replyx-demo");
      await v.chat.getByText("Demo Operator joined the conversation.").waitFor();
      await console.locator(`#dialogs li[data-dialog-id="${v.dialogId}"]`).click();
      await console.locator("[data-testid=dialog-state][data-state=live]").waitFor();
      await console.fill(".reply textarea", "Hello Ann! Yes, the blue teapot ships tomorrow.");
      await console.press(".reply textarea", "Enter");
      await v.chat.getByText("ships tomorrow").waitFor();
      await console.fill(".reply textarea", "Offered free delivery as a gesture.");
      await console.check(".reply input[name=internal]");
      await console.press(".reply textarea", "Enter");
      await console.locator(".events li[data-internal=true]").waitFor();
      await console.locator("[data-testid=visitor-first-seen]").waitFor();
      await console.screenshot({ path: join(dir, "console.png") });
      await vpage.screenshot({ path: join(dir, "widget.png") });
      const phoneConsole = await phone.newPage();
      await login(phoneConsole, server.base, "demo@replyx.local", "replyx-demo");
      await phoneConsole.screenshot({ path: join(dir, "console-phone.png") });
      const phoneVisitor = await phone.newPage();
      await openWidget(phoneVisitor, `${server.base}/demo`);
      await phoneVisitor.screenshot({ path: join(dir, "widget-phone.png") });
    });
  } finally {
    for (const c of [desk, phone, visitorCtx]) await c.close();
    await server.stop();
  }
});
