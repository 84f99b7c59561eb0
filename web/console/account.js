// @ts-check
/**
 * The operator's own account in the console: who is logged in, log out, change the
 * password (which ends every other session), and, for admins, the operators panel.
 */

import { request } from "../shared/http.js";
import { OperatorsPanel } from "./operators.js";

/**
 * @typedef {object} AccountHooks
 * @property {() => void} onLoggedOut the session is over (logout or refused)
 */

export class AccountBar {
  /**
   * @param {Document} doc
   * @param {string} token
   * @param {AccountHooks} hooks
   */
  constructor(doc, token, hooks) {
    this.token = token;
    this.hooks = hooks;
    this.bar = /** @type {HTMLElement} */ (doc.getElementById("account"));
    this.passwordForm = /** @type {HTMLFormElement} */ (doc.getElementById("password"));
    /** @type {AbortController} */
    this.listeners = new AbortController();
    const signal = this.listeners.signal;
    this.operators = new OperatorsPanel(/** @type {HTMLElement} */ (doc.getElementById("operators")), token, signal);
    this.button("logout").addEventListener("click", () => this.logout(), { signal });
    this.button("password").addEventListener("click", () => this.showPassword(true), { signal });
    this.button("operators").addEventListener("click", () => this.operators.show(), { signal });
    this.passwordForm.querySelector("[data-action=cancel]")?.addEventListener("click", () => this.showPassword(false), {
      signal,
    });
    this.passwordForm.addEventListener("submit", (e) => this.changePassword(e), { signal });
  }

  /** @param {string} action */
  button(action) {
    return /** @type {HTMLButtonElement} */ (this.bar.querySelector(`[data-action=${action}]`));
  }

  async start() {
    this.bar.hidden = false;
    try {
      const me = await request("/api/auth/me", { token: this.token });
      /** @type {HTMLElement} */ (this.bar.querySelector("[data-testid=me]")).textContent = `${me.name} (${me.role})`;
      this.button("operators").hidden = me.role !== "admin";
    } catch (e) {
      if (/** @type {any} */ (e).status === 401) this.hooks.onLoggedOut();
    }
  }

  /** Hides everything and drops the listeners (the session is over). */
  stop() {
    this.listeners.abort();
    this.bar.hidden = true;
    this.passwordForm.hidden = true;
    this.operators.hide();
  }

  async logout() {
    try {
      await request("/api/auth/logout", { token: this.token, body: {} });
    } catch {
      // Already ended, or unreachable: either way this console forgets the token.
    }
    this.hooks.onLoggedOut();
  }

  /** @param {boolean} visible */
  showPassword(visible) {
    this.passwordForm.reset();
    this.passwordForm.hidden = !visible;
    /** @type {HTMLElement} */ (this.passwordForm.querySelector(".error")).textContent = "";
  }

  /** @param {SubmitEvent} e */
  async changePassword(e) {
    e.preventDefault();
    const data = new FormData(this.passwordForm);
    const error = /** @type {HTMLElement} */ (this.passwordForm.querySelector(".error"));
    try {
      await request("/api/auth/password", {
        token: this.token,
        body: { current_password: data.get("current"), new_password: data.get("new") },
      });
      this.showPassword(false);
    } catch (err) {
      error.textContent = /** @type {Error} */ (err).message;
    }
  }
}
