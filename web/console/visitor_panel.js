// @ts-check
/**
 * Who the operator is talking to, beside the dialog: the verified identity (when the
 * site signed one) or the visitor's short label, the page they chat from, their
 * language, when they were first seen, and their earlier dialogs with the assistant.
 */

import { request } from "../shared/http.js";
import { age, dayLabel } from "./time.js";
import { visitorName } from "./inbox.js";

export class VisitorPanel {
  /**
   * @param {HTMLElement} root
   * @param {string} token
   * @param {(id: string) => void} onOpen opens one of the earlier dialogs
   */
  constructor(root, token, onOpen) {
    this.root = root;
    this.token = token;
    this.onOpen = onOpen;
  }

  /** @param {any} dialog as `GET /api/dialogs/{id}` returns it */
  async show(dialog) {
    const doc = this.root.ownerDocument;
    const facts = /** @type {HTMLElement} */ (this.root.querySelector("dl"));
    const add = (/** @type {string} */ term, /** @type {string | Node} */ value, /** @type {string} */ testid) => {
      const dt = doc.createElement("dt");
      dt.textContent = term;
      const dd = doc.createElement("dd");
      dd.dataset.testid = testid;
      dd.append(value);
      facts.append(dt, dd);
    };
    facts.replaceChildren();
    add("Visitor", visitorName(dialog), "visitor-name");
    if (dialog.visitor) {
      add("Verified", `user ${dialog.visitor.user_id}${dialog.visitor.email ? ` · ${dialog.visitor.email}` : ""}`, "visitor-verified");
    }
    const context = dialog.context || {};
    if (context.page_url) {
      const link = doc.createElement("a");
      link.href = context.page_url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = context.page_title || context.page_url;
      add("Page", link, "visitor-page");
    }
    if (context.language) add("Language", context.language, "visitor-language");
    const earlier = /** @type {HTMLElement} */ (this.root.querySelector("ul"));
    earlier.replaceChildren();
    try {
      const history = await request(`/api/dialogs/${dialog.id}/guest-dialogs`, { token: this.token });
      add("First seen", dayLabel(history.first_seen), "visitor-first-seen");
      for (const d of history.dialogs) {
        if (d.id === dialog.id) continue;
        const li = doc.createElement("li");
        const button = doc.createElement("button");
        button.type = "button";
        button.className = "link";
        button.textContent = `${dayLabel(d.created_at)} · ${d.status}${d.rating ? ` · ★ ${d.rating.score}` : ""}`;
        button.title = d.last_message ? d.last_message.text : "";
        button.addEventListener("click", () => this.onOpen(d.id));
        const when = doc.createElement("span");
        when.className = "when";
        when.textContent = ` ${age(d.updated_at)} ago`;
        li.append(button, when);
        earlier.append(li);
      }
    } catch {
      // The facts above stand on their own.
    }
    /** @type {HTMLElement} */ (this.root.querySelector(".none")).hidden = earlier.childElementCount > 0;
  }
}
