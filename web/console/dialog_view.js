// @ts-check
/**
 * One dialog in the console: history over HTTP, then `/ws/dialogs/{id}?since=` for live
 * events (merged by seq, never twice, gaps fetched); day separators, times and sender
 * names; internal notes set apart; whether the visitor has read the operator's
 * messages; visitor typing; and only the actions that apply to the dialog's state
 * (take; transfer, release, hand back; close).
 */

import { Connection } from "../shared/connection.js";
import { SeqLog } from "../shared/seq_log.js";
import { request } from "../shared/http.js";
import { socketUrl } from "./tickets.js";
import { clock, dayKey, dayLabel } from "./time.js";
import { visitorName } from "./inbox.js";

/**
 * The actions that apply to a dialog, for the operator `me`.
 * @param {string} status
 * @param {string | undefined} holder the holding operator's id
 * @param {string} me
 * @returns {string[]}
 */
export function actionsFor(status, holder, me) {
  switch (status) {
    case "waiting_operator":
      return ["take", "hand_back", "close"];
    case "ai":
      return ["take", "close"];
    case "operator":
      return holder === me ? ["transfer", "release", "hand_back", "close"] : [];
    default:
      return [];
  }
}

const STATUS_TEXT = {
  ai: "with the assistant",
  waiting_operator: "waiting for an operator",
  operator: "with",
  closed: "closed",
};

/**
 * @typedef {object} DialogHooks
 * @property {() => void} onAuthExpired
 * @property {(dialog: any) => void} onLoaded the dialog as loaded (for the visitor panel)
 * @property {() => void} onBack the phone layout's way back to the inbox
 * @property {() => {operator: {id: string, name: string}, status: string}[]} transferTargets
 */

export class DialogView {
  /**
   * @param {HTMLElement} root
   * @param {string} token
   * @param {string} me the operator's id
   * @param {DialogHooks} hooks
   */
  constructor(root, token, me, hooks) {
    this.root = root;
    this.token = token;
    this.me = me;
    this.hooks = hooks;
    this.id = "";
    this.status = "";
    /** @type {string | undefined} */
    this.holder = undefined;
    this.visitorReadUpTo = 0;
    this.lastDay = "";
    this.log = new SeqLog();
    /** @type {Connection | null} */
    this.connection = null;
    this.q = (/** @type {string} */ s) => /** @type {HTMLElement} */ (root.querySelector(s));
    this.events = this.q(".events");
    this.transferTo = /** @type {HTMLSelectElement} */ (this.q("[data-testid=transfer-to]"));
    for (const button of root.querySelectorAll("[data-action]")) {
      const action = /** @type {HTMLElement} */ (button).dataset.action || "";
      if (action === "back") button.addEventListener("click", () => this.hooks.onBack());
      else if (action === "transfer") button.addEventListener("click", () => this.transfer());
      else button.addEventListener("click", () => this.handoff(action));
    }
  }

  /** @param {string} id */
  async open(id) {
    this.connection?.stop();
    this.id = id;
    this.log = new SeqLog();
    this.lastDay = "";
    this.events.replaceChildren();
    this.q(".typing").textContent = "";
    this.root.hidden = false;
    this.error("");
    try {
      const dialog = await request(`/api/dialogs/${id}`, { token: this.token });
      if (this.id !== id) return;
      this.q("[data-testid=dialog-title]").textContent = visitorName(dialog);
      this.visitorReadUpTo = dialog.visitor_read_up_to;
      this.showStatus(dialog.status, dialog.operator);
      this.hooks.onLoaded(dialog);
      await this.fetchSince();
    } catch (e) {
      return this.fail(e);
    }
    this.connection = new Connection({
      url: () => socketUrl(`/ws/dialogs/${id}?since=${this.log.lastSeq}`, this.token),
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

  stop() {
    this.connection?.stop();
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
    switch (frame.type) {
      case "message.created":
      case "dialog.status":
      case "dialog.rated": {
        const result = this.log.accept(frame);
        if (result === "added") {
          this.show(frame);
          this.markRead();
        } else if (result === "gap") {
          this.fetchSince().catch(() => {});
        }
        break;
      }
      case "pong":
      case "connection.established":
        if (this.log.isBehind(frame.last_seq)) this.fetchSince().catch(() => {});
        break;
      case "typing":
        if (frame.actor === "visitor") this.q(".typing").textContent = frame.state === "start" ? "Visitor is typing…" : "";
        break;
      case "read":
        if (frame.reader === "visitor") {
          this.visitorReadUpTo = Math.max(this.visitorReadUpTo, frame.up_to);
          this.refreshDelivery();
        }
        break;
      default:
        break;
    }
  }

  /** @param {string} iso */
  separate(iso) {
    const day = dayKey(iso);
    if (day === this.lastDay) return;
    this.lastDay = day;
    const li = this.root.ownerDocument.createElement("li");
    li.className = "day";
    li.textContent = dayLabel(iso);
    this.events.append(li);
  }

  /** @param {any} event */
  show(event) {
    const doc = this.root.ownerDocument;
    if (event.type === "dialog.status") {
      this.showStatus(event.status, event.operator);
      return;
    }
    if (event.type === "dialog.rated") {
      const li = doc.createElement("li");
      li.className = "rated";
      li.dataset.seq = String(event.seq);
      li.dataset.testid = "rating";
      const r = event.rating;
      li.textContent = `Rated ${"★".repeat(r.score)}${"☆".repeat(5 - r.score)} (${r.score}/5)${r.comment ? `: “${r.comment}”` : ""}`;
      this.events.append(li);
      return;
    }
    const m = event.message;
    this.separate(m.created_at);
    const li = doc.createElement("li");
    li.dataset.seq = String(event.seq);
    li.dataset.sender = m.sender;
    li.dataset.internal = String(Boolean(m.internal));
    const head = doc.createElement("span");
    head.className = "who";
    const name = m.operator ? m.operator.name : { visitor: "Visitor", assistant: "Assistant", system: "" }[/** @type {"visitor"} */ (m.sender)] ?? m.sender;
    head.textContent = `${name}${m.internal ? " · internal note" : ""}`;
    const time = doc.createElement("time");
    time.dateTime = m.created_at;
    time.textContent = clock(m.created_at);
    head.append(" ", time);
    const text = doc.createElement("span");
    text.className = "text";
    text.textContent = m.text;
    li.append(head, text);
    if (m.sender === "operator" && !m.internal) {
      const delivery = doc.createElement("span");
      delivery.className = "delivery";
      li.append(delivery);
    }
    this.events.append(li);
    this.refreshDelivery();
    if (m.sender === "visitor") this.q(".typing").textContent = "";
    this.events.scrollTop = this.events.scrollHeight;
  }

  /** Marks the operators' messages the visitor has read. */
  refreshDelivery() {
    for (const li of this.events.querySelectorAll("li[data-sender=operator]")) {
      const el = /** @type {HTMLElement} */ (li);
      const delivery = el.querySelector(".delivery");
      if (!delivery) continue;
      const read = Number(el.dataset.seq) <= this.visitorReadUpTo;
      el.dataset.delivery = read ? "read" : "sent";
      delivery.textContent = read ? "✓✓ Read" : "✓ Sent";
    }
  }

  /** @param {string} status @param {any} operator */
  showStatus(status, operator) {
    this.status = status;
    this.holder = operator ? operator.id : undefined;
    const el = this.q("[data-testid=dialog-status]");
    el.dataset.status = status;
    const base = /** @type {any} */ (STATUS_TEXT)[status] || status;
    el.textContent = status === "operator" ? `${base} ${operator && operator.id === this.me ? "you" : operator?.name ?? ""}` : base;
    const allowed = actionsFor(status, this.holder, this.me);
    for (const button of this.root.querySelectorAll(".actions [data-action]")) {
      const b = /** @type {HTMLButtonElement} */ (button);
      b.hidden = !allowed.includes(b.dataset.action || "");
    }
    const transfer = this.q(".transfer");
    transfer.hidden = !allowed.includes("transfer");
    if (!transfer.hidden) this.refreshTargets();
    const reply = /** @type {HTMLFormElement} */ (this.q(".reply"));
    reply.hidden = status === "closed";
  }

  /** Fills the transfer list with colleagues who are not offline. */
  refreshTargets() {
    const doc = this.root.ownerDocument;
    const chosen = this.transferTo.value;
    const targets = this.hooks.transferTargets();
    this.transferTo.replaceChildren(
      ...targets.map((p) => {
        const option = doc.createElement("option");
        option.value = p.operator.id;
        option.textContent = `${p.operator.name} (${p.status})`;
        return option;
      }),
    );
    if (targets.some((p) => p.operator.id === chosen)) this.transferTo.value = chosen;
    const button = /** @type {HTMLButtonElement} */ (this.q(".actions [data-action=transfer]"));
    button.disabled = targets.length === 0;
    button.title = targets.length === 0 ? "Nobody else is online" : "";
  }

  markRead() {
    if (this.log.lastSeq > 0) this.connection?.send({ type: "read", up_to: this.log.lastSeq });
  }

  /**
   * Sends a reply or an internal note; the stored event comes back as the receipt.
   * @param {string} text
   * @param {boolean} internal
   */
  async reply(text, internal) {
    const body = { text, internal, client_msg_id: crypto.randomUUID() };
    try {
      const event = await request(`/api/dialogs/${this.id}/messages`, { token: this.token, body });
      if (this.log.accept(event) === "added") this.show(event);
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  /** @param {string} action */
  async handoff(action) {
    try {
      const event = await request(`/api/dialogs/${this.id}/handoff`, { token: this.token, body: { action } });
      if (this.log.accept(event) === "added") this.show(event);
      this.error("");
    } catch (e) {
      this.fail(e);
    }
  }

  async transfer() {
    const to = this.transferTo.value;
    if (!to) return;
    try {
      const event = await request(`/api/dialogs/${this.id}/transfer`, { token: this.token, body: { operator_id: to } });
      if (this.log.accept(event) === "added") this.show(event);
      this.error("");
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
