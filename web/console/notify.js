// @ts-check
/**
 * Getting an operator's attention: a short sound and a desktop notification (asked
 * for politely: only after a click on "Turn on notifications", never on page load)
 * for a new dialog in the queue and for a message in a dialog the operator holds while
 * the tab is hidden, and the unread count in the tab title.
 */

export class Notifier {
  /**
   * @param {Document} doc
   * @param {HTMLButtonElement} enable the button that asks for permission
   */
  constructor(doc, enable) {
    this.doc = doc;
    this.enable = enable;
    this.baseTitle = doc.title;
    /** @type {AudioContext | null} */
    this.audio = null;
    const supported = typeof Notification !== "undefined";
    this.enable.hidden = !supported || Notification.permission !== "default";
    this.enable.addEventListener("click", async () => {
      // The click is also the user gesture browsers want before playing sound.
      this.audio = this.audio || new AudioContext();
      const answer = await Notification.requestPermission();
      this.enable.hidden = answer !== "default";
    });
  }

  /** @param {number} unread visitor messages not yet read in the operator's dialogs */
  setUnread(unread) {
    this.doc.title = unread > 0 ? `(${unread}) ${this.baseTitle}` : this.baseTitle;
  }

  /**
   * Tells the operator, when the tab is hidden (or always for `urgent`).
   * @param {string} title
   * @param {string} body
   * @param {{urgent?: boolean, tag?: string}} [options]
   */
  alert(title, body, options = {}) {
    if (!options.urgent && this.doc.visibilityState === "visible") return;
    this.beep();
    if (typeof Notification !== "undefined" && Notification.permission === "granted") {
      const n = new Notification(title, { body, tag: options.tag });
      n.onclick = () => {
        window.focus();
        n.close();
      };
    }
  }

  beep() {
    if (!this.audio) return;
    const oscillator = this.audio.createOscillator();
    const gain = this.audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, this.audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, this.audio.currentTime + 0.25);
    oscillator.connect(gain).connect(this.audio.destination);
    oscillator.start();
    oscillator.stop(this.audio.currentTime + 0.25);
  }
}
