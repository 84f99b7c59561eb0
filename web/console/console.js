// @ts-check
/**
 * The operator console: login, then the live inbox, the team's presence, one dialog at
 * a time with its visitor beside it, the reply box, canned responses, notifications
 * and keyboard shortcuts. On a phone the inbox and the dialog take turns on screen.
 */

import { request } from "../shared/http.js";
import { Inbox } from "./inbox.js";
import { DialogView } from "./dialog_view.js";
import { AccountBar } from "./account.js";
import { Team } from "./team.js";
import { Composer } from "./composer.js";
import { CannedPanel, CannedStore } from "./canned.js";
import { VisitorPanel } from "./visitor_panel.js";
import { Notifier } from "./notify.js";
import { visitorName } from "./inbox.js";

const TOKEN_KEY = "replyx:operator-token";
const loginForm = /** @type {HTMLFormElement} */ (document.getElementById("login"));
const app = /** @type {HTMLElement} */ (document.getElementById("app"));
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** What runs for the logged-in operator; stopped when the session ends. */
let running = /** @type {{stop: () => void} | null} */ (null);

function showLogin(message = "") {
  running?.stop();
  running = null;
  sessionStorage.removeItem(TOKEN_KEY);
  app.hidden = true;
  loginForm.hidden = false;
  /** @type {HTMLElement} */ (loginForm.querySelector(".error")).textContent = message;
}

loginForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = new FormData(loginForm);
  try {
    const session = await request("/api/auth/login", {
      body: { email: data.get("email"), password: data.get("password") },
    });
    sessionStorage.setItem(TOKEN_KEY, session.token);
    startApp(session.token);
  } catch (err) {
    showLogin(/** @type {Error} */ (err).message);
  }
});

/** @param {string} token */
async function startApp(token) {
  let me;
  try {
    me = await request("/api/auth/me", { token });
  } catch {
    return showLogin("Your session has ended; log in again.");
  }
  loginForm.hidden = true;
  app.hidden = false;
  const listeners = new AbortController();
  const signal = listeners.signal;
  const ended = () => showLogin("Your session has ended; log in again.");
  const notifier = new Notifier(document, /** @type {HTMLButtonElement} */ (document.querySelector("[data-testid=enable-notifications]")));
  const team = new Team(document, token, me.id);
  const canned = new CannedStore(token);
  const cannedPanel = new CannedPanel($("canned"), token, canned, signal);
  /** @type {any} */
  let current = null;
  const visitorPanel = new VisitorPanel(/** @type {HTMLElement} */ (document.querySelector(".visitor-panel")), token, (id) => inbox.select(id));
  const view = new DialogView($("dialog"), token, me.id, {
    onAuthExpired: ended,
    onLoaded: (dialog) => {
      current = dialog;
      visitorPanel.show(dialog);
    },
    onBack: () => {
      app.dataset.view = "inbox";
      inbox.focusNext(0);
    },
    transferTargets: () => team.targets(),
  });
  team.onChange = () => {
    if (view.status === "operator") view.refreshTargets();
  };
  const composer = new Composer(/** @type {HTMLFormElement} */ ($("dialog").querySelector(".reply")), {
    send: (text, internal) => view.reply(text, internal),
    canned: () => (current ? canned.list(current.assistant_id) : Promise.resolve([])),
    typing: (state) => view.connection?.send({ type: "typing", state }),
  });
  const inbox = new Inbox(document, token, me.id, {
    onSelect: (id) => {
      app.dataset.view = "dialog";
      view.open(id);
    },
    onAuthExpired: ended,
    onPresence: (frame) => team.onFrame(frame),
    onQueued: (row) => notifier.alert("A visitor is waiting", `${visitorName(row)}: ${row.last_message ? row.last_message.text : ""}`, { tag: `queued-${row.id}` }),
    onVisitorMessage: (row) => notifier.alert(visitorName(row), row.last_message ? row.last_message.text : "", { tag: `message-${row.id}` }),
    onUnread: (n) => notifier.setUnread(n),
  });
  const account = new AccountBar(document, token, { onLoggedOut: () => showLogin() });
  document.querySelector("#account [data-action=canned]")?.addEventListener("click", () => cannedPanel.show(), { signal });
  document.addEventListener(
    "keydown",
    (e) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") inbox.move(e.key === "ArrowDown" ? 1 : -1);
      else if (e.key.toLowerCase() === "r") composer.focus();
      else if (e.key.toLowerCase() === "s") $("search").focus();
      else return;
      e.preventDefault();
    },
    { signal },
  );
  app.dataset.view = "inbox";
  running = {
    stop() {
      listeners.abort();
      inbox.stop();
      view.stop();
      account.stop();
      cannedPanel.hide();
    },
  };
  inbox.start();
  team.reload();
  account.start();
}

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) startApp(saved);
else showLogin();
