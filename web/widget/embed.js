// @ts-check
/**
 * Puts the launcher on the host page and opens the chat in one of two ways: an iframe
 * of our own page (`data-assistant-id`, kind "widget"), or a panel inside a shadow root
 * talking to the server straight from the customer's page (`data-site-token`, kind
 * "site"; the server checks the page's Origin).
 */

import { LAUNCHER_CSS, PANEL_CSS } from "./ui/styles.js";
import { strings } from "./i18n.js";

/**
 * @param {{server: string, assistantId: string, siteToken: string, identityToken?: string, lang: string}} options
 */
export async function embed(options) {
  const t = strings(options.lang);
  const host = document.createElement("div");
  host.dataset.replyx = options.siteToken ? "site" : "widget";
  document.body.append(host);
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `<style>${LAUNCHER_CSS}</style>
    <button class="rx-launcher" type="button" data-testid="replyx-launcher" aria-expanded="false" aria-label="${t.open}"><svg width="26" height="26" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg><span class="rx-badge" data-testid="replyx-badge" hidden></span></button>`;
  const launcher = /** @type {HTMLButtonElement} */ (root.querySelector(".rx-launcher"));
  const badge = /** @type {HTMLElement} */ (root.querySelector(".rx-badge"));
  /** @param {number} count */
  const setUnread = (count) => {
    badge.hidden = count === 0;
    badge.textContent = String(count);
    badge.setAttribute("aria-label", `${count} ${t.unread}`);
  };
  let open = false;
  /** Tells the chat whether it is on screen; replaced once the chat is ready. */
  let setVisible = (/** @type {boolean} */ _visible) => {};
  /** @type {HTMLElement} */
  let win;
  // The launcher works from the first moment; the chat catches up with `open` when ready.
  launcher.addEventListener("click", () => {
    open = !open;
    win.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? t.close : t.open);
    setVisible(open);
  });

  if (options.siteToken) {
    win = document.createElement("div");
    win.className = "rx-window";
    win.hidden = true;
    win.dataset.testid = "replyx-window";
    const style = document.createElement("style");
    style.textContent = PANEL_CSS;
    root.append(style, win);
    const [{ ChatClient }, { mountPanel }] = await Promise.all([import("./chat.js"), import("./ui/panel.js")]);
    const client = new ChatClient({
      server: options.server,
      mode: "site",
      siteToken: options.siteToken,
      identityToken: options.identityToken,
      context: pageContext(options.lang),
      storage: localStorage,
    });
    const panel = mountPanel(win, client, t, { onUnread: setUnread });
    setVisible = (v) => panel.setVisible(v);
    setVisible(open);
    client.start().catch(() => {});
  } else {
    const frame = document.createElement("iframe");
    win = frame;
    frame.className = "rx-window";
    frame.hidden = true;
    frame.title = t.title;
    frame.dataset.testid = "replyx-frame";
    const q = new URLSearchParams({ assistant_id: options.assistantId, lang: options.lang });
    // The identity token and the page ride in the fragment: never sent to a server,
    // so never in an access log; the frame reads and clears it.
    const page = pageContext(options.lang);
    const fragment = new URLSearchParams({ page: page.page_url, title: page.page_title });
    if (options.identityToken) fragment.set("identity", options.identityToken);
    frame.src = `${options.server}/widget/frame?${q}#${fragment}`;
    root.append(frame);
    window.addEventListener("message", (e) => {
      if (e.source === frame.contentWindow && e.data && e.data.type === "replyx:unread") setUnread(e.data.count);
    });
    const post = (/** @type {boolean} */ v) =>
      frame.contentWindow?.postMessage({ type: "replyx:visible", visible: v }, options.server);
    frame.addEventListener("load", () => {
      setVisible = post;
      post(open);
    });
  }
}

/**
 * The page the visitor chats from, for operators: its address without query or
 * fragment (they may carry the visitor's own tokens), its title and the language.
 * @param {string} lang
 */
function pageContext(lang) {
  return {
    page_url: (location.origin + location.pathname).slice(0, 2048),
    page_title: document.title.slice(0, 300),
    language: (lang || navigator.language || "").slice(0, 35),
  };
}
