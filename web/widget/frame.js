// @ts-check
/** The page inside our iframe (kind "widget"): same origin as the API, so no CORS. */

import { ChatClient } from "./chat.js";
import { mountPanel } from "./ui/panel.js";
import { strings } from "./i18n.js";
import { PANEL_CSS } from "./ui/styles.js";

const params = new URLSearchParams(location.search);
const lang = params.get("lang") || navigator.language;
document.documentElement.lang = lang;
const style = document.createElement("style");
style.textContent = PANEL_CSS;
document.head.append(style);

// The embedding page's fragment: a signed-in user's identity token and the page the
// visitor is on; read, then cleared from the address.
const fragment = new URLSearchParams(location.hash.slice(1));
const identityToken = fragment.get("identity") || "";
if (location.hash) history.replaceState(null, "", location.pathname + location.search);
/** @type {{page_url?: string, page_title?: string, language?: string}} */
const context = { language: lang.slice(0, 35) };
if (fragment.get("page")) context.page_url = String(fragment.get("page")).slice(0, 2048);
if (fragment.get("title")) context.page_title = String(fragment.get("title")).slice(0, 300);

const client = new ChatClient({
  server: location.origin,
  mode: "widget",
  assistantId: params.get("assistant_id") || "",
  identityToken,
  context,
  storage: localStorage,
});
const embedded = window.parent !== window;
const panel = mountPanel(/** @type {HTMLElement} */ (document.getElementById("chat")), client, strings(lang), {
  onUnread: (count) => {
    if (embedded) window.parent.postMessage({ type: "replyx:unread", count }, "*");
  },
});
panel.setVisible(!embedded);
window.addEventListener("message", (e) => {
  if (e.source === window.parent && e.data && e.data.type === "replyx:visible") panel.setVisible(Boolean(e.data.visible));
});
client.start().catch(() => {});
