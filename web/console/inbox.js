// @ts-check
/**
 * The live inbox: the dialog list over HTTP, kept current by `/ws/admin/inbox`
 * (`dialog.created`, `dialog.updated`); reloaded after every reconnect so nothing
 * missed while disconnected stays stale. Dialogs waiting for an operator come first.
 */

import { Connection } from "../shared/connection.js";
import { request } from "../shared/http.js";

const ORDER = { waiting_operator: 0, operator: 1, ai: 2, closed: 3 };

export class Inbox {
  /**
   * @param {Document} doc
   * @param {string} token
   * @param {{onSelect: (id: string) => void, onAuthExpired: () => void}} hooks
   */
  constructor(doc, token, hooks) {
    this.doc = doc;
    this.token = token;
    this.hooks = hooks;
    /** @type {Map<string, any>} */
    this.rows = new Map();
    this.selected = "";
    this.list = /** @type {HTMLElement} */ (doc.getElementById("dialogs"));
    this.filter = /** @type {HTMLSelectElement} */ (doc.getElementById("filter"));
    this.stateEl = /** @type {HTMLElement} */ (doc.querySelector("[data-testid=inbox-state]"));
    this.filter.addEventListener("change", () => this.render());
  }

  start() {
    const ws = location.origin.replace(/^http/, "ws");
    this.connection = new Connection({
      url: () => `${ws}/ws/admin/inbox?token=${encodeURIComponent(this.token)}`,
      onFrame: (frame) => {
        if (frame.type === "dialog.created" || frame.type === "dialog.updated") this.upsert(frame.dialog);
      },
      onState: (state, reason) => {
        this.stateEl.dataset.state = state;
        this.stateEl.textContent = state;
        // Reload on every (re)connect: updates missed while disconnected are not replayed.
        if (state === "live") this.reload();
        if (reason === "auth_expired" || reason === "auth_failed") this.hooks.onAuthExpired();
      },
    });
    this.connection.start();
  }

  async reload() {
    try {
      const data = await request("/api/dialogs?limit=200", { token: this.token });
      for (const d of data.dialogs) this.upsert(d, false);
      this.render();
    } catch (e) {
      if (/** @type {any} */ (e).status === 401) this.hooks.onAuthExpired();
    }
  }

  /** @param {any} dialog @param {boolean} [render] */
  upsert(dialog, render = true) {
    const current = this.rows.get(dialog.id);
    if (current && current.updated_at > dialog.updated_at) return;
    this.rows.set(dialog.id, dialog);
    if (render) this.render();
  }

  render() {
    const wanted = this.filter.value;
    const rows = [...this.rows.values()]
      .filter((d) => !wanted || d.status === wanted)
      .sort((a, b) => {
        const rank = /** @type {any} */ (ORDER)[a.status] - /** @type {any} */ (ORDER)[b.status];
        return rank || (a.updated_at < b.updated_at ? 1 : -1);
      });
    this.list.replaceChildren(...rows.map((d) => this.renderRow(d)));
  }

  /** @param {any} d */
  renderRow(d) {
    const li = this.doc.createElement("li");
    li.dataset.dialogId = d.id;
    li.dataset.status = d.status;
    li.tabIndex = 0;
    li.setAttribute("aria-selected", String(d.id === this.selected));
    const top = this.doc.createElement("div");
    top.className = "row-top";
    const status = this.doc.createElement("span");
    status.textContent = d.status.replace("_", " ") + (d.operator ? ` · ${d.operator.name}` : "");
    const unread = this.doc.createElement("span");
    unread.className = "unread";
    unread.dataset.count = String(d.unread_count);
    unread.textContent = String(d.unread_count);
    top.append(status, unread);
    const preview = this.doc.createElement("div");
    preview.className = "preview";
    preview.textContent = d.last_message ? d.last_message.text : "";
    li.append(top, preview);
    const select = () => {
      this.selected = d.id;
      this.render();
      this.hooks.onSelect(d.id);
    };
    li.addEventListener("click", select);
    li.addEventListener("keydown", (e) => e.key === "Enter" && select());
    return li;
  }
}
