// @ts-check
/**
 * The live inbox: the dialog list over HTTP, kept current by `/ws/admin/inbox`
 * (`dialog.created`, `dialog.updated`, and `operator.presence` for the team list);
 * reloaded after every reconnect so nothing missed while disconnected stays stale.
 * Tabs: mine, the queue (longest waiting first), all open dialogs, closed ones; a
 * search over message texts and visitors replaces the tabs while it has text.
 */

import { Connection } from "../shared/connection.js";
import { request } from "../shared/http.js";
import { socketUrl } from "./tickets.js";
import { age } from "./time.js";

/** Order of the groups in "all": waiting first, then held, then the assistant's. */
const ORDER = { waiting_operator: 0, operator: 1, ai: 2, closed: 3 };

/**
 * Which tab a row belongs in.
 * @param {any} d a dialog row
 * @param {string} tab
 * @param {string} me the operator's id
 */
export function inTab(d, tab, me) {
  switch (tab) {
    case "mine":
      return d.status === "operator" && d.operator && d.operator.id === me;
    case "queue":
      return d.status === "waiting_operator";
    case "closed":
      return d.status === "closed";
    default:
      return d.status !== "closed";
  }
}

/**
 * A tab's rows in display order: the queue longest-waiting first, the rest newest
 * activity first (in "all", grouped waiting, held, assistant).
 * @param {any[]} rows
 * @param {string} tab
 */
export function sortTab(rows, tab) {
  const newest = (/** @type {any} */ a, /** @type {any} */ b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0);
  if (tab === "queue") {
    return [...rows].sort((a, b) => ((a.queued_at || a.created_at) < (b.queued_at || b.created_at) ? -1 : 1));
  }
  if (tab === "all") {
    return [...rows].sort((a, b) => /** @type {any} */ (ORDER)[a.status] - /** @type {any} */ (ORDER)[b.status] || newest(a, b));
  }
  return [...rows].sort(newest);
}

/** A visitor's name as operators see it: the verified name, or the stable label. */
export function visitorName(/** @type {any} */ d) {
  if (d.visitor) return `✓ ${d.visitor.name || d.visitor.email || d.visitor.user_id}`;
  return d.visitor_label || "Visitor";
}

/**
 * @typedef {object} InboxHooks
 * @property {(id: string) => void} onSelect
 * @property {() => void} onAuthExpired
 * @property {(frame: any) => void} onPresence an `operator.presence` frame
 * @property {(row: any) => void} onQueued a dialog joined the queue
 * @property {(row: any) => void} onVisitorMessage a dialog the operator holds got a visitor message
 * @property {(unread: number) => void} onUnread unread visitor messages in the operator's dialogs
 */

export class Inbox {
  /**
   * @param {Document} doc
   * @param {string} token
   * @param {string} me the operator's id
   * @param {InboxHooks} hooks
   */
  constructor(doc, token, me, hooks) {
    this.doc = doc;
    this.token = token;
    this.me = me;
    this.hooks = hooks;
    /** @type {Map<string, any>} */
    this.rows = new Map();
    this.selected = "";
    this.tab = "all";
    /** @type {any[] | null} search results while the search box has text */
    this.results = null;
    this.list = /** @type {HTMLElement} */ (doc.getElementById("dialogs"));
    this.stateEl = /** @type {HTMLElement} */ (doc.querySelector("[data-testid=inbox-state]"));
    this.search = /** @type {HTMLInputElement} */ (doc.getElementById("search"));
    this.loaded = false;
    for (const button of doc.querySelectorAll("[data-tab]")) {
      button.addEventListener("click", () => this.showTab(/** @type {HTMLElement} */ (button).dataset.tab || "all"));
    }
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let pending;
    this.search.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(() => this.runSearch(), 250);
    });
    this.list.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        this.focusNext(e.key === "ArrowDown" ? 1 : -1);
      }
    });
    this.ticker = setInterval(() => this.render(), 30000);
  }

  start() {
    this.connection = new Connection({
      url: () => socketUrl("/ws/admin/inbox", this.token),
      onFrame: (frame) => {
        if (frame.type === "dialog.created" || frame.type === "dialog.updated") this.upsert(frame.dialog);
        else if (frame.type === "operator.presence") this.hooks.onPresence(frame);
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

  stop() {
    clearInterval(this.ticker);
    this.connection?.stop();
  }

  async reload() {
    try {
      const [open, closed] = await Promise.all([
        request("/api/dialogs?limit=200", { token: this.token }),
        request("/api/dialogs?status=closed&limit=50", { token: this.token }),
      ]);
      const quiet = !this.loaded;
      for (const d of [...open.dialogs, ...closed.dialogs]) this.upsert(d, false, quiet);
      this.loaded = true;
      this.render();
    } catch (e) {
      if (/** @type {any} */ (e).status === 401) this.hooks.onAuthExpired();
    }
  }

  /**
   * @param {any} dialog
   * @param {boolean} [render]
   * @param {boolean} [quiet] no alerts (the first load)
   */
  upsert(dialog, render = true, quiet = false) {
    const current = this.rows.get(dialog.id);
    if (current && current.updated_at > dialog.updated_at) return;
    this.rows.set(dialog.id, dialog);
    if (!quiet && this.loaded) {
      if (dialog.status === "waiting_operator" && (!current || current.status !== "waiting_operator")) this.hooks.onQueued(dialog);
      const mine = dialog.status === "operator" && dialog.operator && dialog.operator.id === this.me;
      if (mine && current && dialog.unread_count > current.unread_count && dialog.last_message && dialog.last_message.sender === "visitor") {
        this.hooks.onVisitorMessage(dialog);
      }
    }
    if (render) this.render();
  }

  /** @param {string} tab */
  showTab(tab) {
    this.tab = tab;
    this.search.value = "";
    this.results = null;
    this.render();
  }

  async runSearch() {
    const q = this.search.value.trim();
    if (!q) {
      this.results = null;
      return this.render();
    }
    try {
      const data = await request(`/api/dialogs?limit=100&q=${encodeURIComponent(q)}`, { token: this.token });
      if (this.search.value.trim() === q) {
        this.results = data.dialogs;
        this.render();
      }
    } catch (e) {
      if (/** @type {any} */ (e).status === 401) this.hooks.onAuthExpired();
    }
  }

  /** The rows shown now, in order. */
  visible() {
    if (this.results) return this.results;
    const rows = [...this.rows.values()].filter((d) => inTab(d, this.tab, this.me));
    return sortTab(rows, this.tab);
  }

  render() {
    for (const button of this.doc.querySelectorAll("[data-tab]")) {
      const tab = /** @type {HTMLElement} */ (button).dataset.tab || "";
      button.setAttribute("aria-selected", String(!this.results && tab === this.tab));
      const count = button.querySelector(".count");
      if (count) {
        const n = [...this.rows.values()].filter((d) => inTab(d, tab, this.me)).length;
        count.textContent = n ? String(n) : "";
      }
    }
    const rows = this.visible();
    this.list.replaceChildren(...rows.map((d) => this.renderRow(d)));
    if (rows.length === 0) {
      const empty = this.doc.createElement("li");
      empty.className = "empty";
      empty.textContent = this.results ? "Nothing found." : "No dialogs here.";
      this.list.append(empty);
    }
    let unread = 0;
    for (const d of this.rows.values()) if (inTab(d, "mine", this.me)) unread += d.unread_count;
    this.hooks.onUnread(unread);
  }

  /** @param {number} step +1 next, -1 previous */
  move(step) {
    const rows = this.visible();
    if (rows.length === 0) return;
    const at = rows.findIndex((d) => d.id === this.selected);
    const next = rows[Math.min(rows.length - 1, Math.max(0, at + step))];
    this.select(next.id);
  }

  /** @param {number} step */
  focusNext(step) {
    const items = [...this.list.querySelectorAll("li[data-dialog-id]")];
    const at = items.indexOf(/** @type {Element} */ (this.doc.activeElement));
    const next = /** @type {HTMLElement | undefined} */ (items[Math.min(items.length - 1, Math.max(0, at + step))]);
    next?.focus();
  }

  /** @param {string} id */
  select(id) {
    this.selected = id;
    this.render();
    /** @type {HTMLElement | null} */ (this.list.querySelector(`[data-dialog-id="${CSS.escape(id)}"]`))?.focus();
    this.hooks.onSelect(id);
  }

  /** @param {any} d */
  renderRow(d) {
    const doc = this.doc;
    const li = doc.createElement("li");
    li.dataset.dialogId = d.id;
    li.dataset.status = d.status;
    li.tabIndex = 0;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(d.id === this.selected));
    const el = (/** @type {string} */ cls, /** @type {string} */ text) => {
      const span = doc.createElement("span");
      span.className = cls;
      span.textContent = text;
      return span;
    };
    const top = doc.createElement("div");
    top.className = "row-top";
    const who = el("who", visitorName(d));
    if (d.visitor) {
      who.dataset.testid = "row-visitor";
      who.title = `Verified by the site: user ${d.visitor.user_id}`;
    }
    const when = doc.createElement("time");
    when.className = "when";
    when.dateTime = d.updated_at;
    when.textContent = age(d.updated_at);
    top.append(who, when);
    const preview = el("preview", d.last_message ? `${d.last_message.sender === "visitor" ? "" : d.last_message.sender + ": "}${d.last_message.text}` : "");
    const meta = doc.createElement("div");
    meta.className = "row-meta";
    if (d.status === "waiting_operator") meta.append(el("waiting", `waiting ${age(d.queued_at || d.updated_at)}`));
    else if (d.status === "operator") meta.append(el("holder", d.operator && d.operator.id === this.me ? "you" : (d.operator?.name ?? "")));
    else if (d.status === "ai") meta.append(el("holder", "assistant"));
    else meta.append(el("holder", "closed"));
    if (d.rating) meta.append(el("rating", `★ ${d.rating}`));
    const unread = el("unread", String(d.unread_count));
    unread.dataset.count = String(d.unread_count);
    unread.setAttribute("aria-label", `${d.unread_count} unread`);
    meta.append(unread);
    li.append(top, preview, meta);
    li.addEventListener("click", () => this.select(d.id));
    li.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        this.select(d.id);
      }
    });
    return li;
  }
}
