// @ts-check
/** Rendering of the message list: stored events, optimistic bubbles, notices. */

/**
 * @param {Document} doc
 * @param {any} event a stored message.created event
 * @returns {HTMLLIElement}
 */
export function renderEvent(doc, event) {
  const li = doc.createElement("li");
  const m = event.message;
  li.className = "rx-msg";
  li.dataset.seq = String(event.seq);
  li.dataset.sender = m.sender;
  li.dataset.state = "sent";
  if (m.client_msg_id) li.dataset.clientMsgId = m.client_msg_id;
  if (m.sender === "operator" && m.operator) {
    const who = doc.createElement("span");
    who.className = "rx-who";
    who.textContent = m.operator.name;
    li.append(who);
  }
  li.append(textSpan(doc, m.text));
  return li;
}

/**
 * @param {Document} doc
 * @param {{clientMsgId: string, text: string, state: string}} pending
 * @returns {HTMLLIElement}
 */
export function renderPending(doc, pending) {
  const li = doc.createElement("li");
  li.className = "rx-msg";
  li.dataset.sender = "visitor";
  li.dataset.clientMsgId = pending.clientMsgId;
  li.dataset.state = pending.state;
  li.append(textSpan(doc, pending.text));
  return li;
}

/**
 * @param {Document} doc
 * @param {string} text
 */
function textSpan(doc, text) {
  const span = doc.createElement("span");
  span.className = "rx-text";
  span.textContent = text;
  return span;
}

/**
 * Sets a bubble's delivery state and its status line.
 * @param {HTMLElement} li
 * @param {string} state
 * @param {string} [label]
 */
export function setBubbleState(li, state, label) {
  li.dataset.state = state;
  li.querySelector(".rx-note")?.remove();
  if (label) {
    const note = li.ownerDocument.createElement("span");
    note.className = "rx-note";
    note.textContent = label;
    li.append(note);
  }
}
