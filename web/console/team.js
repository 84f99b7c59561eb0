// @ts-check
/**
 * Who is at work: the operator's own status (online or away; offline is having no
 * console open) and the team's presence and load, kept live by `operator.presence`
 * frames of the inbox feed. The list is also where a transfer's target is chosen.
 */

import { request } from "../shared/http.js";

const LABEL = { online: "Online", away: "Away", offline: "Offline" };

export class Team {
  /**
   * @param {Document} doc
   * @param {string} token
   * @param {string} me the operator's id
   */
  constructor(doc, token, me) {
    this.token = token;
    this.me = me;
    this.doc = doc;
    /** @type {Map<string, any>} everyone's presence by operator id */
    this.people = new Map();
    this.list = /** @type {HTMLElement} */ (doc.getElementById("team"));
    this.mine = /** @type {HTMLSelectElement} */ (doc.querySelector("[data-testid=my-presence]"));
    this.mine.addEventListener("change", () => this.choose(this.mine.value));
    /** @type {() => void} */
    this.onChange = () => {};
  }

  async reload() {
    try {
      const { operators } = await request("/api/operators/presence", { token: this.token });
      this.people = new Map(operators.map((/** @type {any} */ p) => [p.operator.id, p]));
      this.render();
    } catch {
      // The next presence frame or reconnect tries again.
    }
  }

  /** @param {any} frame an `operator.presence` frame */
  onFrame(frame) {
    const known = this.people.get(frame.operator.id);
    if (known) known.status = frame.status;
    else this.people.set(frame.operator.id, { operator: frame.operator, status: frame.status, held: 0, capacity: 0 });
    this.render();
    // Loads change with presence (a lost operator's dialogs); fetch the figures.
    this.reload();
  }

  /** @param {string} status online or away */
  async choose(status) {
    try {
      const mine = await request("/api/auth/presence", { token: this.token, method: "PUT", body: { status } });
      this.people.set(mine.operator.id, mine);
      this.render();
    } catch {
      this.render();
    }
  }

  /** Operators a dialog may be transferred to: online or away, not me. */
  targets() {
    return [...this.people.values()].filter((p) => p.operator.id !== this.me && p.status !== "offline");
  }

  render() {
    const me = this.people.get(this.me);
    if (me && me.status !== "offline") this.mine.value = me.status;
    const rows = [...this.people.values()].sort((a, b) => a.operator.name.localeCompare(b.operator.name));
    this.list.replaceChildren(
      ...rows.map((p) => {
        const li = this.doc.createElement("li");
        li.dataset.status = p.status;
        li.dataset.operatorId = p.operator.id;
        const dot = this.doc.createElement("span");
        dot.className = "dot";
        dot.setAttribute("aria-hidden", "true");
        const name = this.doc.createElement("span");
        name.textContent = p.operator.id === this.me ? `${p.operator.name} (you)` : p.operator.name;
        const state = this.doc.createElement("span");
        state.className = "presence-state";
        state.textContent = `${/** @type {any} */ (LABEL)[p.status] || p.status}${p.capacity ? ` · ${p.held}/${p.capacity}` : ""}`;
        li.append(dot, name, state);
        return li;
      }),
    );
    this.onChange();
  }
}
