// @ts-check
/**
 * The admins' operators panel: list, add, change role, disable / enable, remove.
 * Disabling or removing someone closes their open consoles (their sockets get 4001).
 */

import { request } from "../shared/http.js";

export class OperatorsPanel {
  /**
   * @param {HTMLElement} root
   * @param {string} token
   * @param {AbortSignal} signal removes the listeners when the session ends
   */
  constructor(root, token, signal) {
    this.root = root;
    this.token = token;
    this.rows = /** @type {HTMLElement} */ (root.querySelector("[data-testid=operators]"));
    this.addForm = /** @type {HTMLFormElement} */ (root.querySelector("form.add"));
    this.errorEl = /** @type {HTMLElement} */ (root.querySelector(".error"));
    this.addForm.addEventListener("submit", (e) => this.add(e), { signal });
    root.querySelector("[data-action=close]")?.addEventListener("click", () => this.hide(), { signal });
  }

  async show() {
    this.root.hidden = false;
    await this.reload();
  }

  hide() {
    this.root.hidden = true;
  }

  /** @param {string} message */
  error(message) {
    this.errorEl.textContent = message;
  }

  async reload() {
    try {
      const { operators } = await request("/api/operators", { token: this.token });
      this.rows.replaceChildren(...operators.map((/** @type {any} */ o) => this.row(o)));
      this.error("");
    } catch (e) {
      this.error(/** @type {Error} */ (e).message);
    }
  }

  /** @param {any} o */
  row(o) {
    const tr = document.createElement("tr");
    tr.dataset.email = o.email;
    tr.dataset.status = o.status;
    for (const text of [o.name, o.email]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const role = document.createElement("select");
    role.setAttribute("aria-label", `Role of ${o.email}`);
    for (const r of ["agent", "admin"]) role.append(new Option(r, r, false, r === o.role));
    role.addEventListener("change", () => this.change(o.id, { role: role.value }));
    const roleCell = document.createElement("td");
    roleCell.append(role);
    const status = document.createElement("td");
    status.textContent = o.status;
    const actions = document.createElement("td");
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.dataset.action = o.status === "active" ? "disable" : "enable";
    toggle.textContent = o.status === "active" ? "Disable" : "Enable";
    toggle.addEventListener("click", () =>
      this.change(o.id, { status: o.status === "active" ? "disabled" : "active" }),
    );
    const remove = document.createElement("button");
    remove.type = "button";
    remove.dataset.action = "remove";
    remove.textContent = "Remove";
    remove.addEventListener("click", () => this.remove(o.id));
    actions.append(toggle, remove);
    tr.append(roleCell, status, actions);
    return tr;
  }

  /** @param {string} id @param {object} change */
  async change(id, change) {
    try {
      await request(`/api/operators/${id}`, { token: this.token, method: "PATCH", body: change });
    } catch (e) {
      this.error(/** @type {Error} */ (e).message);
      return;
    }
    await this.reload();
  }

  /** @param {string} id */
  async remove(id) {
    try {
      await request(`/api/operators/${id}`, { token: this.token, method: "DELETE" });
    } catch (e) {
      this.error(/** @type {Error} */ (e).message);
      return;
    }
    await this.reload();
  }

  /** @param {SubmitEvent} e */
  async add(e) {
    e.preventDefault();
    const data = new FormData(this.addForm);
    try {
      await request("/api/operators", {
        token: this.token,
        body: {
          name: data.get("name"),
          email: data.get("email"),
          password: data.get("password"),
          role: data.get("role"),
        },
      });
    } catch (err) {
      this.error(/** @type {Error} */ (err).message);
      return;
    }
    this.addForm.reset();
    await this.reload();
  }
}
