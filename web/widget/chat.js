// @ts-check
/**
 * The visitor's chat client, shared by both ways in (iframe widget and site embed).
 * Lifecycle: load or create the dialog over HTTP, hand the history to the UI, and only
 * then open the socket with `since` = the last seq loaded. Events are merged by seq and
 * never shown twice; gaps (from `prev_seq` or a pong's `last_seq`) are fetched over HTTP.
 * Sending is optimistic with a `client_msg_id`: a `message.send` frame on the socket
 * while it is live, otherwise (or when the socket gives no answer) a POST with the same
 * id, so the message is stored once whichever way reached the server.
 */

import { Connection } from "../shared/connection.js";
import { SeqLog } from "../shared/seq_log.js";
import { Sends } from "../shared/sends.js";
import { SocketSends } from "../shared/socket_sends.js";
import { request } from "../shared/http.js";

/**
 * @typedef {object} ChatOptions
 * @property {string} server origin of the ReplyX server, e.g. "https://chat.example"
 * @property {"widget" | "site"} mode
 * @property {string} [assistantId] widget mode
 * @property {string} [siteToken] site mode
 * @property {string} [identityToken] a signed-in user's identity token, signed by the
 *   site's backend; the server then finds the user's dialogs on any device
 * @property {{page_url?: string, page_title?: string, language?: string}} [context] the
 *   page the visitor chats from, shown to operators
 * @property {Storage} [storage] where an anonymous visitor's guest id is kept (localStorage)
 */

export class ChatClient extends EventTarget {
  /** @param {ChatOptions} options */
  constructor(options) {
    super();
    this.options = options;
    this.log = new SeqLog();
    /** Optimistic messages not yet seen stored. */
    this.sends = new Sends();
    /** Socket sends waiting for their `message.ack`. */
    this.socketSends = new SocketSends();
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
    const identityToken = this.options.identityToken || "";
    // A signed-in user's guest id comes from the server on every device; the browser's
    // anonymous one is kept aside for when nobody is signed in.
    const storage = identityToken ? undefined : this.options.storage;
    const guestId = storage ? storage.getItem(this.storageKey) : null;
    /** @type {Record<string, string | null>} */
    const body = { guest_id: guestId };
    if (identityToken) body.identity_token = identityToken;
    if (this.options.context) /** @type {any} */ (body).context = this.options.context;
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
    this.emit("status", { status: this.dialog.status });
    if (loaded.queue) this.emit("queue", loaded.queue);
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
    // A socket that is no longer live answers none of the sends written on it.
    if (state !== "live") this.socketSends.abandonAll();
    this.state = state;
    this.emit("state", { state, reason });
  }

  /** @param {any} frame */
  onFrame(frame) {
    if (this.socketSends.onFrame(frame)) return;
    switch (frame.type) {
      case "message.created":
      case "dialog.status":
      case "dialog.rated":
        this.acceptLive(frame);
        break;
      case "queue.position":
        this.emit("queue", frame);
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

  /**
   * Keeps the dialog's status current from its `dialog.status` events.
   * @param {any[]} events
   */
  track(events) {
    for (const e of events) {
      if (e.type !== "dialog.status") continue;
      this.dialog.status = e.status;
      this.emit("status", { status: e.status });
      if (e.status !== "waiting_operator") this.emit("queue", null);
    }
  }

  /** @param {any[]} events */
  announce(events) {
    this.track(events);
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
    if (this.connection && this.connection.state === "live") {
      const connection = this.connection;
      const outcome = await this.socketSends.send((frame) => connection.send(frame), text, id);
      if (outcome && "ack" in outcome) {
        this.acked(id, outcome.ack.seq);
        return;
      }
      if (outcome && "error" in outcome) {
        const failed = this.sends.fail(id);
        if (failed) this.emit("pending", { ...failed, error: outcome.error.code });
        return;
      }
      // Unanswered: the POST below, with the same id.
    }
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

  /**
   * A socket send is stored as `seq`. Its `message.created` follows the ack on the same
   * socket (or in the replay after a reconnect) and settles the send then; a repeated
   * send's event is already in the log, so it settles now.
   * @param {string} clientMsgId
   * @param {number} seq
   */
  acked(clientMsgId, seq) {
    if (seq > this.log.lastSeq) return;
    const event = this.log.events.find((e) => e.seq === seq) || null;
    if (this.sends.settle(clientMsgId)) this.emit("confirmed", { clientMsgId, event });
  }

  /**
   * The visitor's dialogs with this assistant, newest first (the current one too): for
   * a signed-in user, those of every device.
   * @returns {Promise<any[]>}
   */
  async dialogs() {
    const page = await request(`${this.base()}?limit=20`, { token: this.guestToken });
    return page.dialogs;
  }

  /**
   * The visitor stream of one of the visitor's dialogs, oldest first (read only).
   * @param {string} dialogId
   * @returns {Promise<any[]>}
   */
  async transcript(dialogId) {
    const page = await request(`${this.base()}/${dialogId}/events?since=0&limit=500`, { token: this.guestToken });
    return page.events;
  }

  /** Whether the visitor already rated this dialog (a `dialog.rated` in the log). */
  rated() {
    return this.log.events.some((e) => e.type === "dialog.rated");
  }

  /**
   * Rates the closed dialog; the stored `dialog.rated` comes back as the receipt.
   * @param {number} score 1 to 5
   * @param {string} comment
   */
  async rate(score, comment) {
    const event = await request(`${this.base()}/${this.dialog.id}/rating`, {
      token: this.guestToken,
      body: { score, comment: comment || null },
    });
    this.acceptLive(event);
    return event;
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
