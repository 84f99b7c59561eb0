// @ts-check
/**
 * Optimistic sends: the messages a client has shown as "sending" or "failed" and not yet
 * seen stored, by `client_msg_id`. A second send of an id already in flight (a double
 * click, a double Enter) is refused; a retry of a failed one reuses its id, so the server
 * stores it once whatever happened to the first try. Pure: the caller does the HTTP.
 */

/**
 * @typedef {{clientMsgId: string, text: string, state: "sending" | "failed"}} Pending
 */

export class Sends {
  constructor() {
    /** @type {Map<string, Pending>} */
    this.pending = new Map();
  }

  /**
   * Starts sending `text` under `clientMsgId`; null when that id is already sending.
   * @param {string} clientMsgId
   * @param {string} text
   * @returns {Pending | null}
   */
  begin(clientMsgId, text) {
    const existing = this.pending.get(clientMsgId);
    if (existing && existing.state === "sending") return null;
    /** @type {Pending} */
    const entry = { clientMsgId, text, state: "sending" };
    this.pending.set(clientMsgId, entry);
    return entry;
  }

  /**
   * The send failed; it stays, as "failed", until it is retried.
   * @param {string} clientMsgId
   * @returns {Pending | null} the failed entry, or null when it was no longer pending
   */
  fail(clientMsgId) {
    const entry = this.pending.get(clientMsgId);
    if (!entry) return null;
    /** @type {Pending} */
    const failed = { clientMsgId, text: entry.text, state: "failed" };
    this.pending.set(clientMsgId, failed);
    return failed;
  }

  /**
   * The message is stored (the POST answered, or its event arrived first): forget it.
   * @param {string | undefined | null} clientMsgId
   * @returns {boolean} whether it was pending (so the caller shows it as sent once)
   */
  settle(clientMsgId) {
    return clientMsgId ? this.pending.delete(clientMsgId) : false;
  }
}
