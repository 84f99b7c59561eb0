// @ts-check
/**
 * One logical realtime connection that survives disconnects: it opens a WebSocket with
 * the caller's current `since`, pings to detect dead links, follows the close-code
 * table to decide whether and when to reconnect, and reconnects at once when the
 * browser comes back online. State: "connecting" | "live" | "reconnecting" | "offline"
 * | "closed" (the server said not to reconnect).
 *
 * Every socket of one Connection carries the same `client_id`, so a reconnect replaces
 * the socket the server may still hold for it after a link died silently (the server
 * closes that one with 4009, which this Connection ignores: it is no longer its socket).
 */

import { CLIENT_PING_MS, PONG_TIMEOUT_MS } from "./protocol.js";
import { decide } from "./close_policy.js";

/**
 * @typedef {object} ConnectionOptions
 * @property {() => string | Promise<string>} url the socket URL, with the current since
 *   (a promise when it needs a request first, such as an operator's single-use ticket)
 * @property {(frame: any) => void} onFrame every JSON frame
 * @property {(state: string, reason?: string) => void} onState state changes
 * @property {() => Promise<void>} [refreshToken] called before reconnecting after 4001
 */

export class Connection {
  /** @param {ConnectionOptions} options */
  constructor(options) {
    this.options = options;
    this.clientId = newClientId();
    /** @type {WebSocket | null} */
    this.socket = null;
    this.state = "idle";
    this.attempt = 0;
    this.stopped = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pingTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.pongTimer = undefined;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.dropForOffline();
  }

  /** Opens the first socket. Call only after the dialog's history is loaded. */
  start() {
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    if (navigator.onLine === false) {
      this.setState("offline");
      return;
    }
    this.open();
  }

  /** Closes for good. */
  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    this.clearTimers();
    if (this.socket) this.socket.close(1000);
    this.setState("closed");
  }

  /** @param {object} frame */
  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  /** @param {string} state @param {string} [reason] */
  setState(state, reason) {
    if (this.state === state) return;
    this.state = state;
    this.options.onState(state, reason);
  }

  async open() {
    this.clearTimers();
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let url;
    try {
      url = await this.options.url();
    } catch (e) {
      if (this.stopped) return;
      // No URL: a 401 means the credentials are gone (as a 4001 close would say);
      // anything else is a lost link, retried with backoff.
      const status = /** @type {any} */ (e).status;
      this.afterClose(status === 401 ? 4001 : 1006);
      return;
    }
    if (this.stopped || this.socket) return;
    const socket = new WebSocket(withClientId(url, this.clientId));
    this.socket = socket;
    socket.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === "pong" && this.pongTimer) {
        clearTimeout(this.pongTimer);
        this.pongTimer = undefined;
      }
      if (frame.type === "replay.complete") {
        this.attempt = 0;
        this.setState("live");
      }
      this.options.onFrame(frame);
    };
    socket.onopen = () => {
      this.pingTimer = setInterval(() => this.ping(), CLIENT_PING_MS);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearTimers();
      if (this.stopped) return;
      if (navigator.onLine === false) {
        this.setState("offline");
        return;
      }
      this.afterClose(event.code);
    };
  }

  /** Application-level ping; no pong in time means a dead link. */
  ping() {
    if (!this.send({ type: "ping" })) return;
    if (this.pongTimer) return;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = undefined;
      if (this.socket) this.socket.close(4000);
    }, PONG_TIMEOUT_MS);
  }

  /** @param {number} code */
  async afterClose(code) {
    const decision = decide(code, this.attempt);
    if (!decision.reconnect) {
      this.stopped = true;
      this.setState("closed", decision.reason);
      return;
    }
    this.attempt += 1;
    this.setState("reconnecting", decision.reason);
    if (decision.refreshToken && this.options.refreshToken) {
      try {
        await this.options.refreshToken();
      } catch {
        // A failed refresh is retried on the next attempt.
      }
    }
    this.retryTimer = setTimeout(() => this.open(), decision.delay);
  }

  dropForOffline() {
    this.setState("offline");
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      this.clearTimers();
      socket.close(4000);
    }
  }

  reconnectNow() {
    if (this.stopped || this.socket) return;
    this.clearTimers();
    this.attempt = Math.max(this.attempt, 1);
    this.open();
  }

  clearTimers() {
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }
}

/** A random id of 32 hex characters (the protocol takes 8 to 64 of `[A-Za-z0-9_-]`). */
function newClientId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * `url` with `client_id` set.
 * @param {string} url an absolute ws:// or wss:// URL
 * @param {string} clientId
 */
export function withClientId(url, clientId) {
  const u = new URL(url);
  u.searchParams.set("client_id", clientId);
  return u.toString();
}
