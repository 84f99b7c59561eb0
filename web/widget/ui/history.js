// @ts-check
/**
 * Earlier conversations: the visitor's other dialogs with this assistant (for a
 * signed-in user, those of every device they used), listed newest first and readable
 * as a transcript. Read only: new messages go to the current dialog. Shown only when
 * there is an earlier dialog; rendered from what the server returns, never invented.
 */

import { renderEvent } from "./messages.js";

/**
 * @param {HTMLElement} panel the `.rx-panel` element
 * @param {import("../chat.js").ChatClient} client
 * @param {import("../i18n.js").Strings} t
 */
export function mountHistory(panel, client, t) {
  const doc = panel.ownerDocument;
  const open = doc.createElement("button");
  open.type = "button";
  open.className = "rx-earlier";
  open.dataset.testid = "earlier-open";
  open.textContent = t.earlier;
  open.hidden = true;
  panel.querySelector(".rx-head")?.append(open);

  const view = doc.createElement("section");
  view.className = "rx-history";
  view.hidden = true;
  view.setAttribute("aria-label", t.earlier);
  view.innerHTML = `<div class="rx-history-head"><button type="button" class="rx-back" data-testid="earlier-back"></button>
    <span class="rx-history-title"></span></div><ul class="rx-dialogs"></ul><ol class="rx-messages rx-transcript" hidden></ol>`;
  panel.append(view);
  const $ = (/** @type {string} */ s) => /** @type {HTMLElement} */ (view.querySelector(s));
  const back = $(".rx-back");
  const heading = $(".rx-history-title");
  const list = $(".rx-dialogs");
  const transcript = $(".rx-transcript");
  back.textContent = t.back;

  /** @param {string} iso */
  const when = (iso) => new Date(iso).toLocaleString(doc.documentElement.lang || undefined, { dateStyle: "medium", timeStyle: "short" });

  /** @param {boolean} on */
  const showView = (on) => {
    view.hidden = !on;
    // The history takes the place of the live log and the composer while it is open.
    panel.dataset.view = on ? "history" : "";
    open.hidden = on || list.childElementCount === 0;
  };
  const showList = () => {
    heading.textContent = t.earlier;
    list.hidden = false;
    transcript.hidden = true;
  };

  /** @param {any} dialog */
  const item = (dialog) => {
    const li = doc.createElement("li");
    const button = doc.createElement("button");
    button.type = "button";
    button.className = "rx-dialog";
    button.dataset.dialogId = dialog.id;
    const date = doc.createElement("span");
    date.className = "rx-when";
    date.textContent = when(dialog.updated_at);
    const preview = doc.createElement("span");
    preview.className = "rx-preview";
    preview.textContent = dialog.last_message ? dialog.last_message.text : "";
    button.append(date, preview);
    button.addEventListener("click", async () => {
      heading.textContent = when(dialog.created_at);
      list.hidden = true;
      transcript.hidden = false;
      transcript.replaceChildren();
      try {
        for (const event of await client.transcript(dialog.id)) {
          if (event.type === "message.created") transcript.append(renderEvent(doc, event));
        }
      } catch {
        transcript.textContent = t.error;
      }
    });
    li.append(button);
    return li;
  };

  const refresh = async () => {
    try {
      const dialogs = await client.dialogs();
      const current = client.dialog && client.dialog.id;
      list.replaceChildren(...dialogs.filter((d) => d.id !== current).map(item));
    } catch {
      list.replaceChildren();
    }
    open.hidden = !view.hidden || list.childElementCount === 0;
  };

  client.addEventListener("history", () => {
    refresh();
  });
  open.addEventListener("click", () => {
    showList();
    showView(true);
    back.focus();
  });
  back.addEventListener("click", () => {
    if (!transcript.hidden) return showList();
    showView(false);
    open.focus();
  });
}
