// @ts-check
/**
 * Canned responses: each assistant's ready-made replies, loaded once per assistant
 * for the reply box's `/shortcut` suggestions, and the panel where operators add,
 * change and remove them.
 */

import { request } from "../shared/http.js";

/**
 * The canned responses whose shortcut starts with what follows the `/` (case as
 * typed: shortcuts are lower case), best match first.
 * @param {{shortcut: string, text: string}[]} all
 * @param {string} typed the reply box's text, starting with "/"
 */
export function suggestions(all, typed) {
  if (!typed.startsWith("/") || /\s/.test(typed)) return [];
  const prefix = typed.slice(1).toLowerCase();
  return all
    .filter((c) => c.shortcut.startsWith(prefix))
    .sort((a, b) => (a.shortcut === prefix ? -1 : b.shortcut === prefix ? 1 : a.shortcut.localeCompare(b.shortcut)));
}

export class CannedStore {
  /** @param {string} token */
  constructor(token) {
    this.token = token;
    /** @type {Map<string, Promise<any[]>>} */
    this.byAssistant = new Map();
  }

  /** @param {string} assistantId */
  list(assistantId) {
    let pending = this.byAssistant.get(assistantId);
    if (!pending) {
      pending = request(`/api/assistants/${assistantId}/canned-responses`, { token: this.token })
        .then((r) => r.canned_responses)
        .catch(() => {
          this.byAssistant.delete(assistantId);
          return [];
        });
      this.byAssistant.set(assistantId, pending);
    }
    return pending;
  }

  /** @param {string} assistantId */
  forget(assistantId) {
    this.byAssistant.delete(assistantId);
  }
}

export class CannedPanel {
  /**
   * @param {HTMLElement} root
   * @param {string} token
   * @param {CannedStore} store
   * @param {AbortSignal} signal
   */
  constructor(root, token, store, signal) {
    this.root = root;
    this.token = token;
    this.store = store;
    this.assistant = /** @type {HTMLSelectElement} */ (root.querySelector("[name=assistant]"));
    this.rows = /** @type {HTMLElement} */ (root.querySelector("[data-testid=canned]"));
    this.form = /** @type {HTMLFormElement} */ (root.querySelector("form.add"));
    this.errorEl = /** @type {HTMLElement} */ (root.querySelector(".error"));
    this.assistant.addEventListener("change", () => this.reload(), { signal });
    this.form.addEventListener("submit", (e) => this.add(e), { signal });
    root.querySelector("[data-action=close]")?.addEventListener("click", () => this.hide(), { signal });
  }

  async show() {
    this.root.hidden = false;
    try {
      const { assistants } = await request("/api/assistants", { token: this.token });
      const chosen = this.assistant.value;
      this.assistant.replaceChildren(
        ...assistants.map((/** @type {any} */ a) => {
          const option = this.root.ownerDocument.createElement("option");
          option.value = a.id;
          option.textContent = a.name;
          return option;
        }),
      );
      if (chosen) this.assistant.value = chosen;
      await this.reload();
    } catch (e) {
      this.error(/** @type {Error} */ (e).message);
    }
  }

  hide() {
    this.root.hidden = true;
  }

  /** @param {string} message */
  error(message) {
    this.errorEl.textContent = message;
  }

  async reload() {
    const id = this.assistant.value;
    if (!id) return;
    this.store.forget(id);
    const list = await this.store.list(id);
    this.rows.replaceChildren(...list.map((/** @type {any} */ c) => this.row(c)));
  }

  /** @param {any} c */
  row(c) {
    const doc = this.root.ownerDocument;
    const li = doc.createElement("li");
    li.dataset.shortcut = c.shortcut;
    const label = doc.createElement("code");
    label.textContent = `/${c.shortcut}`;
    const text = doc.createElement("textarea");
    text.value = c.text;
    text.rows = 2;
    text.setAttribute("aria-label", `Text of /${c.shortcut}`);
    const save = doc.createElement("button");
    save.type = "button";
    save.textContent = "Save";
    save.addEventListener("click", async () => {
      try {
        await request(`/api/canned-responses/${c.id}`, { token: this.token, method: "PATCH", body: { text: text.value } });
        this.error("");
        await this.reload();
      } catch (e) {
        this.error(/** @type {Error} */ (e).message);
      }
    });
    const remove = doc.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove /${c.shortcut}`);
    remove.addEventListener("click", async () => {
      try {
        await request(`/api/canned-responses/${c.id}`, { token: this.token, method: "DELETE" });
        await this.reload();
      } catch (e) {
        this.error(/** @type {Error} */ (e).message);
      }
    });
    li.append(label, text, save, remove);
    return li;
  }

  /** @param {SubmitEvent} e */
  async add(e) {
    e.preventDefault();
    const data = new FormData(this.form);
    try {
      await request(`/api/assistants/${this.assistant.value}/canned-responses`, {
        token: this.token,
        body: { shortcut: String(data.get("shortcut") || "").trim(), text: String(data.get("text") || "") },
      });
      this.form.reset();
      this.error("");
      await this.reload();
    } catch (err) {
      this.error(/** @type {Error} */ (err).message);
    }
  }
}
