// @ts-check
/**
 * One dialog in the console: history over HTTP, then `/ws/dialogs/{id}?since=` for live
 * events (merged by seq, never twice, gaps fetched), visitor typing, replies and
 * internal notes, take / release / close, and read marks.
 */

import { Connection } from "../shared/connection.js";
import { SeqLog } from "../shared/seq_log.js";
import { request } from "../shared/http.js";

export class DialogView {
  /**
   * @param {HTMLElement} root
   * @param {string} token
   * @param {{onAuthExpired: () => void}} hooks
   */
  constructor(root, token, hooks) {
    this.root = root;
    this.token = token;
    this.hooks = hooks;
    this.id = "";
    this.log = new SeqLog();
    /** @type {Connection | null} */
    this.connection = null;
    this.q = (/** @type {string} */ s) => /** @type {HTMLElement} */ (root.querySelector(s));
    this.events = this.q(".events");
    this.form = /** @type {HTMLFormElement} */ (this.q(".reply"));
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.reply();
    });
    for (const button of root.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => this.handoff(/** @type {HTMLElement} */ (button).dataset.action || ""));
    }
  }

  /** @param {string} id */
  async open(id) {
    this.connection?.stop();
    this.id = id;
    this.log = new SeqLog();
    this.events.replaceChildren();
    this.root.hidden = false;
    this.error("");
    try {
      const dialog = await request(`/api/dialogs/${id}`, { token: this.token });
      this.showStatus(dialog.status, dialog.operator);
      await this.fetchSince();
    } catch (e) {
      return this.fail(e);
    }
    const ws = location.origin.replace(/^http/, "ws");
    this.connection = new Connection({
      url: () => `${ws}/ws/dialogs/${id}?token=${encodeURIComponent(this.token)}&since=${this.log.lastSeq}`,
      onFrame: (frame) => this.onFrame(frame),
      onState: (state, reason) => {
        const el = this.q("[data-testid=dialog-state]");
        el.dataset.state = state;
        el.textContent = state;
        if (reason === "auth_expired" || reason === "auth_failed") this.hooks.onAuthExpired();
      },
    });
    this.connection.start();
  }

  async fetchSince() {
    for (;;) {
      const page = await request(`/api/dialogs/${this.id}/events?since=${this.log.lastSeq}&limit=500`, { token: this.token });
      this.log.acceptAll(page.events).added.forEach((e) => this.show(e));
      if (page.events.length < 500) break;
    }
    this.markRead();
  }

  /** @param {any} frame */
  onFrame(frame) {
    if (frame.type === "message.created" || frame.type === "dialog.status") {
      const result = this.log.accept(frame);
      if (result === "added") {
        this.show(frame);
        this.markRead();
      } else if (result === "gap") {
        this.fetchSince().catch(() => {});
      }
    } else if (frame.type === "pong" || frame.type === "connection.established") {
      if (this.log.isBehind(frame.last_seq)) this.fetchSince().catch(() => {});
    } else if (frame.type === "typing" && frame.actor === "visitor") {
      this.q(".typing").textContent = frame.state === "start" ? "Visitor is typing…" : "";
    }
  }

  /** @param {any} event */
  show(event) {
    if (event.type === "dialog.status") {
      this.showStatus(event.status, event.operator);
      return;
    }
    const m = event.message;
    const li = this.root.ownerDocument.createElement("li");
    li.dataset.seq = String(event.seq);
    li.dataset.sender = m.sender;
    li.dataset.internal = String(Boolean(m.internal));
    const who = this.root.ownerDocument.createElement("span");
    who.className = "who";
    who.textContent = (m.operator ? m.operator.name : m.sender) + (m.internal ? " · internal note" : "");
    li.append(who, m.text);
    this.events.append(li);
    if (m.sender === "visitor") this.q(".typing").textContent = "";
    this.events.scrollTop = this.events.scrollHeight;
  }

  /** @param {string} status @param {any} operator */
  showStatus(status, operator) {
    const el = this.q("[data-testid=dialog-status]");
    el.dataset.status = status;
    el.textContent = status.replace("_", " ") + (operator ? ` · ${operator.name}` : "");
  }

  markRead() {
    if (this.log.lastSeq > 0) this.connection?.send({ type: "read", up_to: this.log.lastSeq });
  }

  async reply() {
    const data = new FormData(this.form);
    const text = String(data.get("text") || "").trim();
    if (!text) return;
    this.form.reset();
    const body = { text, internal: data.get("internal") === "on", client_msg_id: crypto.randomUUID() };
    try {
      const event = await request(`/api/dialogs/${this.id}/messages`, { token: this.token, body });
      if (this.log.accept(event) === "added") this.show(event);
    } catch (e) {
      this.fail(e);
    }
  }

  /** @param {string} action */
  async handoff(action) {
    try {
      const event = await request(`/api/dialogs/${this.id}/handoff`, { token: this.token, body: { action } });
      if (this.log.accept(event) === "added") this.show(event);
    } catch (e) {
      this.fail(e);
    }
  }

  /** @param {unknown} e */
  fail(e) {
    const err = /** @type {any} */ (e);
    if (err.status === 401) this.hooks.onAuthExpired();
    this.error(err.message || String(e));
  }

  /** @param {string} message */
  error(message) {
    this.q(".error").textContent = message;
  }
}
