// Starts real `replyx` servers and a real Chromium for the end-to-end tests. Everything
// waits on events (the server's "listening on" line, DOM states), never on fixed delays.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, "../..");
export const BIN = process.env.REPLYX_BIN || join(REPO, "target/debug/replyx");
export const ARTIFACTS = join(here, "artifacts");
export const DEMO_EMAIL = "demo@replyx.local";
export const DEMO_PASSWORD = "replyx-demo";

/** A free loopback port. */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (s.address());
      s.close(() => ok(port));
    });
  });
}

/**
 * Runs `replyx serve --demo` on `port` with its database in `dir`.
 * @param {{dir?: string, port?: number, env?: Record<string, string>}} [options]
 */
export async function startServer(options = {}) {
  const dir = options.dir || mkdtempSync(join(tmpdir(), "replyx-e2e-"));
  const port = options.port || (await freePort());
  const proc = spawn(BIN, ["serve", "--demo"], {
    env: {
      ...process.env,
      REPLYX_BIND: `127.0.0.1:${port}`,
      REPLYX_DATABASE_URL: `sqlite://${join(dir, "replyx.db")}`,
      REPLYX_ASSISTANT_REPLY_DELAY: "300ms",
      REPLYX_DRAIN_GRACE: "3s",
      RUST_LOG: "info",
      ...(options.env || {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const info = await new Promise((ok, fail) => {
    const found = { assistantId: "", siteToken: "" };
    proc.stdout.on("data", (chunk) => {
      output += chunk;
      const id = /assistant id:\s+(\S+)/.exec(output);
      const token = /site token:\s+(\S+)/.exec(output);
      if (id) found.assistantId = id[1];
      if (token) found.siteToken = token[1];
      if (/listening on http:\/\//.test(output)) ok(found);
    });
    proc.stderr.on("data", (chunk) => (output += chunk));
    proc.on("exit", (code) => fail(new Error(`replyx exited with ${code}:\n${output}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    ...info,
    base,
    port,
    dir,
    proc,
    output: () => output,
    /** SIGTERM, then wait for exit; resolves with the exit code. */
    stop() {
      return new Promise((ok) => {
        if (proc.exitCode !== null) return ok(proc.exitCode);
        proc.once("exit", (code) => ok(code));
        proc.kill("SIGTERM");
      });
    },
  };
}

/** Debian's Chromium, headless, kept off the closed network. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
}

/**
 * Collects every console error, page error, failed request and HTTP error of a page.
 * @param {import("playwright-core").Page} page
 */
export function recordProblems(page) {
  /** @type {string[]} */
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`http ${r.status()}: ${r.url()}`));
  return problems;
}

/**
 * Runs `body` with tracing on `contexts`; on failure keeps a trace and a screenshot of
 * every page under web/e2e/artifacts/<name>/.
 * @param {string} name
 * @param {import("playwright-core").BrowserContext[]} contexts
 * @param {() => Promise<void>} body
 */
export async function withArtifacts(name, contexts, body) {
  for (const c of contexts) await c.tracing.start({ screenshots: true, snapshots: true });
  try {
    await body();
    for (const c of contexts) await c.tracing.stop();
  } catch (e) {
    const dir = join(ARTIFACTS, name.replace(/[^a-z0-9]+/gi, "-"));
    mkdirSync(dir, { recursive: true });
    let i = 0;
    for (const c of contexts) {
      await c.tracing.stop({ path: join(dir, `trace-${i}.zip`) }).catch(() => {});
      for (const p of c.pages()) await p.screenshot({ path: join(dir, `page-${i}-${p.url().length}.png`) }).catch(() => {});
      i += 1;
    }
    throw e;
  }
}

/** Logs the demo operator in over HTTP; returns the token. */
export async function operatorToken(base) {
  const r = await fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: DEMO_EMAIL, password: DEMO_PASSWORD }),
  });
  if (!r.ok) throw new Error(`login ${r.status}`);
  return (await r.json()).token;
}

/** Posts an operator message over HTTP. */
export async function operatorSays(base, token, dialogId, text) {
  const r = await fetch(`${base}/api/dialogs/${dialogId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ text }),
  });
  if (r.status !== 201) throw new Error(`post ${r.status} ${await r.text()}`);
  return r.json();
}

/**
 * Opens the demo page, opens the chat and waits until it is live.
 * @param {import("playwright-core").Page} page
 * @param {string} url
 */
export async function openWidget(page, url) {
  await page.goto(url);
  await page.getByTestId("replyx-launcher").click();
  const chat = page.frameLocator("[data-testid=replyx-frame]");
  await chat.locator("[data-testid=connection-state][data-state=live]").waitFor();
  const dialogId = await chat.locator(".rx-panel").getAttribute("data-dialog-id");
  return { chat, dialogId: /** @type {string} */ (dialogId) };
}

/**
 * Logs into the console in `page` and waits for the live inbox.
 * @param {import("playwright-core").Page} page
 * @param {string} base
 */
export async function openConsole(page, base) {
  await page.goto(`${base}/console`);
  await page.fill("input[name=email]", DEMO_EMAIL);
  await page.fill("input[name=password]", DEMO_PASSWORD);
  await page.click("form#login button");
  await page.locator("[data-testid=inbox-state][data-state=live]").waitFor();
}

/**
 * Texts of the messages in a chat, in order.
 * @param {import("playwright-core").FrameLocator | import("playwright-core").Page} chat
 */
export async function messageTexts(chat) {
  return chat.locator(".rx-messages .rx-msg .rx-text").allTextContents();
}
