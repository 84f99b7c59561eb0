// @ts-check
/**
 * Asking the visitor how it went, once the dialog is closed: 1 to 5 stars and an
 * optional comment, sent once. A dialog rated already (its `dialog.rated` is in the
 * stream) is not asked about again, after a reload or on another device.
 */

/**
 * @param {HTMLElement} panel the `.rx-panel` element
 * @param {import("../chat.js").ChatClient} client
 * @param {import("../i18n.js").Strings} t
 */
export function mountRating(panel, client, t) {
  const doc = panel.ownerDocument;
  const box = doc.createElement("form");
  box.className = "rx-rating";
  box.dataset.testid = "rating";
  box.hidden = true;
  box.innerHTML = `<fieldset><legend>${t.rateTitle}</legend><div class="rx-stars"></div></fieldset>
    <label class="rx-sr" for="rx-rating-comment">${t.rateComment}</label>
    <textarea id="rx-rating-comment" rows="2" maxlength="1000" placeholder="${t.rateComment}"></textarea>
    <button type="submit" disabled>${t.rateSend}</button><p class="rx-rating-note" role="status"></p>`;
  const stars = /** @type {HTMLElement} */ (box.querySelector(".rx-stars"));
  const comment = /** @type {HTMLTextAreaElement} */ (box.querySelector("textarea"));
  const send = /** @type {HTMLButtonElement} */ (box.querySelector("button[type=submit]"));
  const note = /** @type {HTMLElement} */ (box.querySelector(".rx-rating-note"));
  let score = 0;
  for (let n = 1; n <= 5; n += 1) {
    const label = doc.createElement("label");
    const input = doc.createElement("input");
    input.type = "radio";
    input.name = "rx-score";
    input.value = String(n);
    input.addEventListener("change", () => {
      score = n;
      send.disabled = false;
    });
    const star = doc.createElement("span");
    star.textContent = "★";
    star.setAttribute("aria-hidden", "true");
    const sr = doc.createElement("span");
    sr.className = "rx-sr";
    sr.textContent = `${n} / 5`;
    label.append(input, star, sr);
    stars.append(label);
  }
  panel.querySelector(".rx-form")?.before(box);

  const thank = () => {
    box.replaceChildren();
    const done = doc.createElement("p");
    done.className = "rx-rating-note";
    done.setAttribute("role", "status");
    done.textContent = t.rateThanks;
    box.append(done);
  };
  const offer = () => {
    if (client.rated()) return thank();
    box.hidden = false;
  };
  box.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!score) return;
    send.disabled = true;
    try {
      await client.rate(score, comment.value.trim());
      thank();
    } catch {
      send.disabled = false;
      note.textContent = t.failed;
    }
  });
  client.addEventListener("status", (e) => {
    if (/** @type {CustomEvent} */ (e).detail.status === "closed") offer();
  });
}
