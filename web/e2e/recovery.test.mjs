// The widget's recovery paths in Chromium, each driven on purpose: a proxy between the
// browser and the real server drops, duplicates and reorders the frames the server
// sends (e2e/fault_proxy.mjs). A gap seen from `prev_seq` and one seen only from a
// pong's `last_seq` must both be fetched from the log; repeats and reordering must show
// each message once, in order. Each test also checks the path it is about was taken
// (the widget's gap fetch, `GET …/events?since=`, was made — or not).

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import {
  launchBrowser, startServer, withArtifacts, openWidget, operatorToken, operatorSays, messageTexts,
} from "./harness.mjs";
import { startFaultProxy } from "./fault_proxy.mjs";
import { CLIENT_PING_MS } from "../shared/protocol.js";

/** @type {import("playwright-core").Browser} */
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/**
 * A server, a fault proxy in front of it, and a visitor's live widget through the proxy;
 * `gapFetches` collects the widget's reads of the log after its history.
 * @param {string} name
 * @param {(ctx: any) => Promise<void>} body
 * @param {{clock?: boolean}} [options]
 */
async function throughFaults(name, body, options = {}) {
  const server = await startServer();
  const proxy = await startFaultProxy(server.base);
  const visitor = await browser.newContext();
  try {
    if (options.clock) await visitor.clock.install();
    await withArtifacts(name, [visitor], async () => {
      const page = await visitor.newPage();
      /** @type {string[]} */
      const gapFetches = [];
      page.on("request", (r) => /\/events\?since=/.test(r.url()) && gapFetches.push(r.url()));
      const { chat, dialogId } = await openWidget(page, `${proxy.base}/demo`);
      const token = await operatorToken(server.base);
      const say = (/** @type {string} */ text) => operatorSays(server.base, token, dialogId, text);
      await body({ page, chat, proxy, say, gapFetches, visitor });
    });
  } finally {
    await visitor.close();
    await proxy.close();
    await server.stop();
  }
}

const text = (/** @type {any} */ f) => f.message && f.message.text;

test("a gap the next event's prev_seq reveals is fetched from the log", async () => {
  await throughFaults("recovery-prev-seq-gap", async ({ chat, proxy, say, gapFetches }) => {
    proxy.setRule((f) => (text(f) === "lost on the way" ? "drop" : "pass"));
    const dropped = once(proxy.events, "drop");
    const lost = await say("lost on the way");
    await dropped;
    proxy.setRule(() => "pass");
    await say("after the gap");
    await chat.getByText("after the gap").waitFor();
    const texts = await messageTexts(chat);
    assert.deepEqual(texts.slice(-2), ["lost on the way", "after the gap"], "filled, in order");
    assert.ok(gapFetches.some((u) => u.includes(`since=${lost.seq - 1}`)), `the gap was fetched: ${gapFetches}`);
  });
});

test("a dropped last event is found from the pong's last_seq", async () => {
  await throughFaults("recovery-pong", async ({ chat, proxy, say, gapFetches, visitor }) => {
    proxy.setRule((f) => (text(f) === "nothing follows me" ? "drop" : "pass"));
    const dropped = once(proxy.events, "drop");
    await say("nothing follows me");
    await dropped;
    assert.deepEqual(gapFetches, [], "no event came to reveal it");
    // The widget's next application ping, on its own clock.
    await visitor.clock.fastForward(CLIENT_PING_MS + 1000);
    await chat.getByText("nothing follows me").waitFor();
    assert.equal(gapFetches.length, 1, `fetched once: ${gapFetches}`);
  }, { clock: true });
});

test("repeated and reordered frames show each message once, in order", async () => {
  await throughFaults("recovery-duplicate-reorder", async ({ chat, proxy, say, gapFetches }) => {
    proxy.setRule((f) => (text(f) === "said twice" ? "duplicate" : "pass"));
    const duplicated = once(proxy.events, "duplicate");
    await say("said twice");
    await duplicated;
    await chat.getByText("said twice").waitFor();
    assert.deepEqual(gapFetches, [], "a repeat is no gap");

    proxy.setRule((f) => (["first", "second"].includes(text(f)) ? "hold" : "pass"));
    await say("first");
    await say("second");
    while (proxy.held() < 2) await once(proxy.events, "hold");
    proxy.release({ reversed: true });
    await chat.getByText("second").waitFor();
    await chat.getByText("first").waitFor();
    const texts = await messageTexts(chat);
    assert.deepEqual(texts.slice(-3), ["said twice", "first", "second"], "once each, in seq order");
    assert.equal(texts.filter((t) => t === "said twice").length, 1);
    assert.equal(gapFetches.length, 1, "the second, arriving first, revealed the gap");
  });
});
