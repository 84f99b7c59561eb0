// @ts-check
/**
 * The chat panel: header with the connection state, the message log (aria-live), typing
 * indicator, and the composer. Renders what the ChatClient reports; invents nothing (the
 * welcome message is whatever the server stored).
 */

import { renderEvent, renderPending, setBubbleState } from "./messages.js";
import { mountHistory } from "./history.js";
import { mountRating } from "./rating.js";

/**
 * @param {HTMLElement} host element to fill
 * @param {import("../chat.js").ChatClient} client
 * @param {import("../i18n.js").Strings} t
 * @param {{onUnread?: (count: number) => void}} [hooks]
 */
export function mountPanel(host, client, t, hooks = {}) {
  const doc = host.ownerDocument;
  host.innerHTML = `
    <section class="rx-panel" aria-label="${t.title}">
      <header class="rx-head"><span class="rx-title"></span>
        <span class="rx-state" data-testid="connection-state" role="status"></span></header>
      <div class="rx-banner" hidden></div>
      <div class="rx-queue" data-testid="queue" role="status" hidden></div>
      <ol class="rx-messages" tabindex="0" aria-label="${t.title}" aria-live="polite" aria-relevant="additions"></ol>
      <div class="rx-typing" aria-live="polite"></div>
      <form class="rx-form">
        <textarea class="rx-input" rows="1" aria-label="${t.placeholder}" placeholder="${t.placeholder}"></textarea>
        <button class="rx-send" type="submit">${t.send}</button>
      </form>
    </section>`;
  const $ = (/** @type {string} */ s) => /** @type {HTMLElement} */ (host.querySelector(s));
  const panelEl = $(".rx-panel");
  const title = $(".rx-title");
  const stateEl = $(".rx-state");
  const banner = $(".rx-banner");
  const list = $(".rx-messages");
  const typingEl = $(".rx-typing");
  const form = /** @type {HTMLFormElement} */ ($(".rx-form"));
  const input = /** @type {HTMLTextAreaElement} */ ($(".rx-input"));
  title.textContent = t.title;
  mountHistory(panelEl, client, t);
  mountRating(panelEl, client, t);
  const queueEl = $(".rx-queue");
  client.addEventListener("queue", (e) => {
    const q = /** @type {CustomEvent} */ (e).detail;
    queueEl.hidden = !q;
    if (!q) return;
    queueEl.dataset.position = String(q.position);
    queueEl.textContent =
      q.operators_online === 0
        ? t.queueNobody
        : t.queuePosition.replace("{n}", String(q.position)) +
          (q.expected_wait_s ? ` · ${t.queueWait.replace("{m}", String(Math.max(1, Math.round(q.expected_wait_s / 60))))}` : "");
  });
  let visible = true;
  let unread = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let typingClear;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let myTypingStop;

  const scroll = () => (list.scrollTop = list.scrollHeight);
  /** @param {string} id */
  const bubbleFor = (id) => /** @type {HTMLElement | null} */ (list.querySelector(`[data-client-msg-id="${CSS.escape(id)}"]`));

  /** @param {any} event */
  const show = (event) => {
    if (event.type === "dialog.rated") {
      const li = doc.createElement("li");
      li.className = "rx-msg";
      li.dataset.sender = "system";
      li.dataset.seq = String(event.seq);
      li.textContent = `${t.rated} ${"★".repeat(event.rating.score)}`;
      list.append(li);
      return scroll();
    }
    if (event.type !== "message.created") return;
    if (list.querySelector(`[data-seq="${event.seq}"]`)) return;
    list.append(renderEvent(doc, event));
    if (event.message.sender !== "visitor") {
      typingEl.textContent = "";
      if (!visible) hooks.onUnread?.(++unread);
    }
    scroll();
  };

  client.addEventListener("history", (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    if (d.assistant) title.textContent = d.assistant.name;
    panelEl.dataset.dialogId = d.dialog.id;
    d.events.forEach(show);
    if (visible) client.markRead();
  });
  client.addEventListener("event", (e) => {
    show(/** @type {CustomEvent} */ (e).detail);
    if (visible) client.markRead();
  });
  client.addEventListener("pending", (e) => {
    const p = /** @type {CustomEvent} */ (e).detail;
    let li = bubbleFor(p.clientMsgId);
    if (!li) {
      li = renderPending(doc, p);
      list.append(li);
      scroll();
    }
    setBubbleState(li, p.state, p.state === "failed" ? t.failed : t.sending);
  });
  client.addEventListener("confirmed", (e) => {
    const { clientMsgId, event } = /** @type {CustomEvent} */ (e).detail;
    const li = bubbleFor(clientMsgId);
    if (li && event) {
      li.dataset.seq = String(event.seq);
      setBubbleState(li, "sent");
    } else if (event) {
      show(event);
    }
  });
  client.addEventListener("typing", (e) => {
    const f = /** @type {CustomEvent} */ (e).detail;
    clearTimeout(typingClear);
    typingEl.textContent = f.state === "start" ? (f.actor === "operator" ? t.operatorTyping : t.assistantTyping) : "";
    if (f.state === "start") typingClear = setTimeout(() => (typingEl.textContent = ""), 8000);
  });
  client.addEventListener("state", (e) => {
    const { state, reason } = /** @type {CustomEvent} */ (e).detail;
    stateEl.dataset.state = state;
    stateEl.textContent = /** @type {any} */ (t)[state] || state;
    const forbidden = reason === "forbidden_domain" || reason === "forbidden_origin";
    if (state === "closed" || state === "error") {
      banner.hidden = false;
      banner.dataset.kind = "error";
      banner.textContent = forbidden ? t.forbidden : t.error;
      input.disabled = true;
    } else if (state === "offline") {
      banner.hidden = false;
      banner.dataset.kind = "info";
      banner.textContent = t.offline;
    } else {
      banner.hidden = true;
    }
  });

  const submit = () => {
    const text = input.value.trim();
    // Cleared before anything else: a second Enter or click finds it empty.
    input.value = "";
    if (!text) return;
    clearTimeout(myTypingStop);
    client.typing("stop");
    client.send(text);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    if (!myTypingStop) client.typing("start");
    clearTimeout(myTypingStop);
    myTypingStop = setTimeout(() => {
      myTypingStop = undefined;
      client.typing("stop");
    }, 3000);
  });
  list.addEventListener("click", (e) => {
    const li = /** @type {HTMLElement} */ (e.target).closest?.("[data-state=failed]");
    if (li instanceof HTMLElement && li.dataset.clientMsgId) {
      const text = li.querySelector(".rx-text")?.textContent || "";
      client.send(text, li.dataset.clientMsgId);
    }
  });

  return {
    /** @param {boolean} v */
    setVisible(v) {
      visible = v;
      if (v) {
        unread = 0;
        hooks.onUnread?.(0);
        client.markRead();
        input.focus();
      }
    },
  };
}
