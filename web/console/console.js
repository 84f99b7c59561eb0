// @ts-check
/** The operator console: login, then the live inbox and one dialog at a time. */

import { request } from "../shared/http.js";
import { Inbox } from "./inbox.js";
import { DialogView } from "./dialog_view.js";

const TOKEN_KEY = "replyx:operator-token";
const loginForm = /** @type {HTMLFormElement} */ (document.getElementById("login"));
const app = /** @type {HTMLElement} */ (document.getElementById("app"));

function showLogin(message = "") {
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
function startApp(token) {
  loginForm.hidden = true;
  app.hidden = false;
  const view = new DialogView(/** @type {HTMLElement} */ (document.getElementById("dialog")), token, {
    onAuthExpired: () => showLogin("Your session expired; log in again."),
  });
  const inbox = new Inbox(document, token, {
    onSelect: (id) => view.open(id),
    onAuthExpired: () => showLogin("Your session expired; log in again."),
  });
  inbox.start();
}

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) startApp(saved);
else showLogin();
