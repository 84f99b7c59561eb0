// The browser's half of the previous system's bugs, named for them (the server's half
// is crates/replyx-server/tests/it/historic_bugs.rs).

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { launchBrowser, startServer, withArtifacts, openWidget, operatorToken, operatorSays } from "./harness.mjs";
import { startFaultProxy } from "./fault_proxy.mjs";

/** @type {import("playwright-core").Browser} */
let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** `since` of a socket URL (path and query), or null. */
const sinceOf = (/** @type {string} */ url) => new URL(url, "ws://x").searchParams.get("since");

// The widget used to open its socket while the dialog was still loading, and without
// `since`: what was stored in between never arrived, and a reconnect started over.
test("a socket opened before the dialog loaded", async () => {
  const server = await startServer();
  const proxy = await startFaultProxy(server.base);
  const visitor = await browser.newContext();
  try {
    await withArtifacts("historic-socket-before-load", [visitor], async () => {
      const page = await visitor.newPage();
      /** @type {{what: string, at: number, lastSeq?: number}[]} */
      const order = [];
      let clock = 0;
      page.on("response", async (r) => {
        if (r.request().method() === "POST" && /\/api\/widget\/dialogs$/.test(r.url())) {
          const at = clock++;
          order.push({ what: "load", at, lastSeq: (await r.json()).dialog.last_seq });
        }
      });
      page.on("websocket", () => order.push({ what: "socket", at: clock++ }));
      const { chat, dialogId } = await openWidget(page, `${proxy.base}/demo`);
      const load = order.find((o) => o.what === "load");
      const socket = order.find((o) => o.what === "socket");
      assert.ok(load && socket && load.at < socket.at, `loaded, then connected: ${JSON.stringify(order)}`);
      assert.equal(proxy.socketUrls.length, 1);
      assert.equal(sinceOf(proxy.socketUrls[0]), String(load.lastSeq), "the first socket resumes where the load ended");

      // A reconnect resumes after the newest event the widget has, never from scratch.
      const token = await operatorToken(server.base);
      const last = await operatorSays(server.base, token, dialogId, "before the link drops");
      await chat.getByText("before the link drops").waitFor();
      const reconnected = once(proxy.events, "socket");
      proxy.cutSockets();
      const [url] = await reconnected;
      assert.equal(sinceOf(url), String(last.seq), `resumes after the newest event: ${url}`);
      await chat.locator("[data-testid=connection-state][data-state=live]").waitFor();
    });
  } finally {
    await visitor.close();
    await proxy.close();
    await server.stop();
  }
});
