// @ts-check
/**
 * The visitor's chat client, shared by both ways in (iframe widget and site embed).
 * Lifecycle: load or create the dialog over HTTP, hand the history to the UI, and only
 * then open the socket with `since` = the last seq loaded. Events are merged by seq and
 * never shown twice; gaps (from `prev_seq` or a pong's `last_seq`) are fetched over HTTP.
 * Sending is optimistic with a `client_msg_id`, retried with the same id.
 */

import { Connection } from "../shared/connection.js";
import { SeqLog } from "../shared/seq_log.js";
import { Sends } from "../shared/sends.js";
import { request } from "../shared/http.js";

/**
 * @typedef {object} ChatOptions
 * @property {string} server origin of the ReplyX server, e.g. "https://chat.example"
 * @property {"widget" | "site"} mode
 * @property {string} [assistantId] widget mode
 * @property {string} [siteToken] site mode
 * @property {Storage} [storage] where the guest id is kept (localStorage)
 */

export class ChatClient extends EventTarget {
  /** @param {ChatOptions} options */
  constructor(options) {
    super();
    this.options = options;
    this.log = new SeqLog();
    /** Optimistic messages not yet seen stored. */
    this.sends = new Sends();
    /** @type {any} */
    this.dialog = null;
    this.guestToken = "";
    /** @type {{id: string, name: string} | null} */
    this.assistant = null;
    /** @type {Connection | null} */
    this.connection = null;
    this.fetchingGap = false;
    this.state = "connecting";
  }

  get storageKey() {
    return `replyx:guest:${this.options.assistantId || this.options.siteToken?.slice(-24)}`;
  }

  /** @param {string} type @param {any} [detail] */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  base() {
    return `${this.options.server}/api/${this.options.mode}/dialogs`;
  }

  /** Loads the dialog, then connects. */
  async start() {
    const storage = this.options.storage;
    const guestId = storage ? storage.getItem(this.storageKey) : null;
    /** @type {Record<string, string | null>} */
    const body = { guest_id: guestId };
    if (this.options.mode === "site") body.site_token = this.options.siteToken || "";
    else body.assistant_id = this.options.assistantId || "";
    let loaded;
    try {
      loaded = await request(this.base(), { body });
    } catch (e) {
      this.setState("error", /** @type {any} */ (e).code || "network");
      throw e;
    }
    if (storage) storage.setItem(this.storageKey, loaded.guest_id);
    this.dialog = loaded.dialog;
    this.guestToken = loaded.guest_token;
    this.assistant = loaded.assistant;
    const { added } = this.log.acceptAll(loaded.events);
    this.emit("history", { events: added, dialog: this.dialog, assistant: this.assistant });
    this.connect();
  }

  connect() {
    const wsBase = this.options.server.replace(/^http/, "ws");
    this.connection = new Connection({
      url: () => {
        const q = new URLSearchParams({ guest_token: this.guestToken, since: String(this.log.lastSeq) });
        if (this.options.mode === "site") q.set("site_token", this.options.siteToken || "");
        else q.set("assistant_id", this.options.assistantId || "");
        return `${wsBase}/ws/${this.options.mode}/dialogs/${this.dialog.id}?${q}`;
      },
      onFrame: (frame) => this.onFrame(frame),
      onState: (state, reason) => this.setState(state, reason),
    });
    this.connection.start();
  }

  /** @param {string} state @param {string} [reason] */
  setState(state, reason) {
    this.state = state;
    this.emit("state", { state, reason });
  }

  /** @param {any} frame */
  onFrame(frame) {
    switch (frame.type) {
      case "message.created":
      case "dialog.status":
        this.acceptLive(frame);
        break;
      case "pong":
      case "connection.established":
        if (this.log.isBehind(frame.last_seq)) this.fillGap();
        break;
      case "typing":
        this.emit("typing", frame);
        break;
      case "read":
        this.emit("read", frame);
        break;
      default:
        break;
    }
  }

  /** @param {any} event */
  acceptLive(event) {
    const result = this.log.accept(event);
    if (result === "added") this.announce([event]);
    if (result === "gap") this.fillGap();
  }

  /** @param {any[]} events */
  announce(events) {
    for (const event of events) {
      const key = event.message && event.message.client_msg_id;
      if (this.sends.settle(key)) {
        this.emit("confirmed", { clientMsgId: key, event });
      } else {
        this.emit("event", event);
      }
    }
  }

  /** Fetches every event after the last one seen (used for gaps). */
  async fillGap() {
    if (this.fetchingGap) return;
    this.fetchingGap = true;
    try {
      for (;;) {
        const url = `${this.base()}/${this.dialog.id}/events?since=${this.log.lastSeq}&limit=500`;
        const page = await request(url, { token: this.guestToken });
        const { added } = this.log.acceptAll(page.events);
        this.announce(added);
        if (page.events.length < 500) break;
      }
    } catch {
      // The next pong or reconnect tries again.
    } finally {
      this.fetchingGap = false;
    }
  }

  /**
   * Sends a message optimistically; resolves when stored or failed.
   * @param {string} text
   * @param {string} [clientMsgId] reuse to retry a failed send
   */
  async send(text, clientMsgId) {
    const id = clientMsgId || newId();
    const entry = this.sends.begin(id, text);
    if (!entry) return;
    this.emit("pending", { ...entry });
    try {
      const event = await request(`${this.base()}/${this.dialog.id}/messages`, {
        token: this.guestToken,
        body: { text, client_msg_id: id },
      });
      // The socket may have delivered it first; either way it is shown once.
      const result = this.log.accept(event);
      if (result === "added" || result === "duplicate") {
        if (this.sends.settle(id)) this.emit("confirmed", { clientMsgId: id, event });
      } else {
        this.sends.settle(id);
        this.emit("confirmed", { clientMsgId: id, event: null });
        this.fillGap();
      }
    } catch (e) {
      const failed = this.sends.fail(id);
      if (failed) this.emit("pending", { ...failed, error: /** @type {any} */ (e).code });
    }
  }

  /** @param {"start" | "stop"} state */
  typing(state) {
    this.connection?.send({ type: "typing", state });
  }

  markRead() {
    if (this.log.lastSeq > 0) this.connection?.send({ type: "read", up_to: this.log.lastSeq });
  }
}

function newId() {
  if (globalThis.crypto && "randomUUID" in globalThis.crypto) return globalThis.crypto.randomUUID();
  return `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
