// @ts-check
/**
 * Messages sent as `message.send` frames on the dialog's socket, waiting for the
 * server's answer: `message.ack` (stored, with its seq) or an `error` frame carrying
 * their `client_msg_id` (refused, with the same codes as the POST). A send that could
 * not be written, whose socket closed, or that got no answer within the timeout is
 * "unanswered": the caller then POSTs it with the same `client_msg_id`, and the server
 * stores it once whichever try reached it. Pure apart from timers: the caller owns the
 * socket.
 */

/** How long a socket send waits for its answer before the POST takes over. */
export const ACK_TIMEOUT_MS = 5000;

/**
 * @typedef {{ack: {client_msg_id: string, seq: number, duplicate: boolean}}
 *   | {error: {code: string, message: string, client_msg_id: string, retry_after?: number}}
 *   | null} SendOutcome null: unanswered
 */

export class SocketSends {
  /** @param {number} [timeoutMs] */
  constructor(timeoutMs = ACK_TIMEOUT_MS) {
    this.timeoutMs = timeoutMs;
    /** @type {Map<string, {resolve: (o: SendOutcome) => void, timer: ReturnType<typeof setTimeout>}>} */
    this.waiting = new Map();
  }

  /**
   * Sends `text` under `clientMsgId` and waits for its answer.
   * @param {(frame: object) => boolean} transmit writes a frame; false when no socket is open
   * @param {string} text
   * @param {string} clientMsgId
   * @returns {Promise<SendOutcome>}
   */
  send(transmit, text, clientMsgId) {
    return new Promise((resolve) => {
      // A second send of the same id replaces the first's wait: one answer settles both.
      this.finish(clientMsgId, null);
      const timer = setTimeout(() => this.finish(clientMsgId, null), this.timeoutMs);
      this.waiting.set(clientMsgId, { resolve, timer });
      if (!transmit({ type: "message.send", text, client_msg_id: clientMsgId })) this.finish(clientMsgId, null);
    });
  }

  /**
   * A frame from the socket.
   * @param {any} frame
   * @returns {boolean} whether it answered a send waiting here
   */
  onFrame(frame) {
    if (frame.type === "message.ack") return this.finish(frame.client_msg_id, { ack: frame });
    if (frame.type === "error" && frame.client_msg_id) return this.finish(frame.client_msg_id, { error: frame });
    return false;
  }

  /** The socket closed: no send on it will be answered. */
  abandonAll() {
    for (const id of [...this.waiting.keys()]) this.finish(id, null);
  }

  /**
   * @param {string} clientMsgId
   * @param {SendOutcome} outcome
   */
  finish(clientMsgId, outcome) {
    const waiting = this.waiting.get(clientMsgId);
    if (!waiting) return false;
    this.waiting.delete(clientMsgId);
    clearTimeout(waiting.timer);
    waiting.resolve(outcome);
    return true;
  }
}
