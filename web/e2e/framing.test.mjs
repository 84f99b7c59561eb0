// Who may frame what, as Chromium enforces it: before, any site could show an
// assistant's widget frame (its id is public in every embed) and frame the console.
// A page on a foreign origin frames both and is refused; a page on the assistant's
// allowed domain may frame the widget and loads it. The host pages come from a small
// HTTP server of the test's own on loopback: `http://127.0.0.1:PORT` is a foreign
// origin (neither the server's own nor an allowed domain), `http://localhost:PORT` the
// allowed one. (Host pages faked by Playwright's router have no address, and
// Chromium's local-network checks would block their frames for reasons of their own.)

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { launchBrowser, startServer, operatorToken } from "./harness.mjs";

/** @type {import("playwright-core").Browser} */
let browser;
/** The host pages' server: `/?frames=<json [[id, src], ...]>` is a page of iframes. */
const hosts = createServer((req, res) => {
  const frames = JSON.parse(new URL(req.url || "/", "http://x").searchParams.get("frames") || "[]");
  const body = frames.map(([id, src]) => `<iframe id="${id}" src="${src}"></iframe>`).join("");
  res.writeHead(200, { "content-type": "text/html" });
  res.end(`<!doctype html><title>host</title>${body}`);
});
let hostPort = 0;
before(async () => {
  browser = await launchBrowser();
  await new Promise((ok) => hosts.listen(0, "127.0.0.1", () => ok(undefined)));
  hostPort = /** @type {import("node:net").AddressInfo} */ (hosts.address()).port;
});
after(async () => {
  await browser?.close();
  hosts.close();
});

/** An assistant whose only allowed domain is localhost (the demo's is 127.0.0.1 too). */
async function shopAssistant(base) {
  const token = await operatorToken(base);
  const r = await fetch(`${base}/api/assistants`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: "Shop", allowed_domains: ["localhost"] }),
  });
  assert.equal(r.status, 201, await r.clone().text());
  return (await r.json()).id;
}

/**
 * Opens `origin`/ as a page holding the given iframes; returns the page and the
 * frame-ancestors refusals Chromium reported.
 */
async function pageFraming(context, origin, frames) {
  const page = await context.newPage();
  /** @type {string[]} */
  const refused = [];
  page.on("console", (m) => {
    if (/frame-ancestors/.test(m.text())) refused.push(m.text());
  });
  // Each frame's document request is answered (with the policy) before "load".
  await page.goto(`${origin}/?frames=${encodeURIComponent(JSON.stringify(frames))}`, { waitUntil: "load" });
  return { page, refused };
}

test("a foreign page can frame neither the widget nor the console", async () => {
  const server = await startServer();
  const context = await browser.newContext();
  try {
    const id = await shopAssistant(server.base);
    const { page, refused } = await pageFraming(context, `http://127.0.0.1:${hostPort}`, [
      ["w", `${server.base}/widget/frame?assistant_id=${id}`],
      ["c", `${server.base}/console`],
    ]);
    await assert.doesNotReject(async () => {
      for (const sel of ["#w", "#c"]) {
        // A refused frame holds Chromium's error page, never our document.
        const frame = await (await page.$(sel))?.contentFrame();
        assert.ok(frame, sel);
        await frame.waitForLoadState();
        assert.equal(await frame.locator("#chat, form#login").count(), 0, `${sel} shows our page`);
      }
    });
    assert.equal(refused.length, 2, refused.join("\n"));
  } finally {
    await context.close();
    await server.stop();
  }
});

test("the assistant's own domain may frame its widget", async () => {
  const server = await startServer();
  const context = await browser.newContext();
  try {
    const id = await shopAssistant(server.base);
    const { page, refused } = await pageFraming(context, `http://localhost:${hostPort}`, [
      ["w", `${server.base}/widget/frame?assistant_id=${id}`],
    ]);
    await page.frameLocator("#w").locator("#chat").waitFor({ state: "attached" });
    assert.deepEqual(refused, []);
  } finally {
    await context.close();
    await server.stop();
  }
});
