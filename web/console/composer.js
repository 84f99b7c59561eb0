// @ts-check
/**
 * The reply box: Enter sends, Shift+Enter starts a new line, `/` opens the assistant's
 * canned responses (arrows to choose, Enter or Tab to insert, Escape to close), the
 * internal-note switch, and the operator's typing shown to the visitor.
 */

import { suggestions } from "./canned.js";

/**
 * @typedef {object} ComposerHooks
 * @property {(text: string, internal: boolean) => Promise<boolean>} send
 * @property {() => Promise<{shortcut: string, text: string}[]>} canned the dialog's assistant's
 * @property {(state: "start" | "stop") => void} typing
 */

export class Composer {
  /**
   * @param {HTMLFormElement} form
   * @param {ComposerHooks} hooks
   */
  constructor(form, hooks) {
    this.form = form;
    this.hooks = hooks;
    this.input = /** @type {HTMLTextAreaElement} */ (form.querySelector("textarea"));
    this.internal = /** @type {HTMLInputElement} */ (form.querySelector("[name=internal]"));
    this.list = /** @type {HTMLElement} */ (form.querySelector(".suggestions"));
    /** @type {{shortcut: string, text: string}[]} */
    this.shown = [];
    this.active = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.typingStop = undefined;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => this.key(e));
    this.input.addEventListener("input", () => this.changed());
  }

  focus() {
    this.input.focus();
  }

  async submit() {
    const text = this.input.value.trim();
    if (!text) return;
    // Cleared first: a second Enter finds it empty and sends nothing.
    this.input.value = "";
    this.close();
    this.stopTyping();
    const sent = await this.hooks.send(text, this.internal.checked);
    if (!sent && !this.input.value) this.input.value = text;
    else this.internal.checked = false;
  }

  /** @param {KeyboardEvent} e */
  key(e) {
    if (!this.list.hidden && this.shown.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        this.active = (this.active + (e.key === "ArrowDown" ? 1 : this.shown.length - 1)) % this.shown.length;
        return this.render();
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        return this.insert(this.shown[this.active]);
      }
      if (e.key === "Escape") {
        e.preventDefault();
        return this.close();
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    }
  }

  async changed() {
    const typed = this.input.value;
    if (typed.startsWith("/") && !/\s/.test(typed)) {
      this.shown = suggestions(await this.hooks.canned(), typed);
      this.active = 0;
      this.render();
    } else {
      this.close();
    }
    if (typed.trim()) {
      if (!this.typingStop) this.hooks.typing("start");
      clearTimeout(this.typingStop);
      this.typingStop = setTimeout(() => this.stopTyping(), 3000);
    }
  }

  stopTyping() {
    if (this.typingStop) {
      clearTimeout(this.typingStop);
      this.typingStop = undefined;
      this.hooks.typing("stop");
    }
  }

  /** @param {{shortcut: string, text: string}} c */
  insert(c) {
    this.input.value = c.text;
    this.close();
    this.input.focus();
  }

  close() {
    this.shown = [];
    this.list.hidden = true;
    this.list.replaceChildren();
    this.input.removeAttribute("aria-activedescendant");
  }

  render() {
    const doc = this.form.ownerDocument;
    this.list.hidden = this.shown.length === 0;
    this.list.replaceChildren(
      ...this.shown.map((c, i) => {
        const li = doc.createElement("li");
        li.id = `canned-${i}`;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(i === this.active));
        const code = doc.createElement("code");
        code.textContent = `/${c.shortcut}`;
        li.append(code, ` ${c.text}`);
        li.addEventListener("mousedown", (e) => {
          e.preventDefault();
          this.insert(c);
        });
        return li;
      }),
    );
    if (this.shown.length) this.input.setAttribute("aria-activedescendant", `canned-${this.active}`);
  }
}
