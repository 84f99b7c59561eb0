// @ts-check
/**
 * A client's copy of one stream of a dialog's log. Events are accepted strictly in seq
 * order, each once: a repeat is ignored, and an event whose `prev_seq` is past the last
 * accepted seq reveals a gap, which the caller fills from `GET …/events?since=lastSeq`.
 */

/**
 * @typedef {{type: string, seq: number, prev_seq: number, dialog_id: string, [key: string]: any}} LogEvent
 */

export class SeqLog {
  constructor() {
    /** Highest seq accepted. */
    this.lastSeq = 0;
    /** @type {LogEvent[]} events in seq order */
    this.events = [];
  }

  /**
   * @param {LogEvent} event
   * @returns {"added" | "duplicate" | "gap"}
   */
  accept(event) {
    if (event.seq <= this.lastSeq) return "duplicate";
    if (event.prev_seq > this.lastSeq) return "gap";
    this.events.push(event);
    this.lastSeq = event.seq;
    return "added";
  }

  /**
   * Accepts a list (a history page or a gap fill) in seq order.
   * @param {LogEvent[]} events
   * @returns {{added: LogEvent[], gap: boolean}}
   */
  acceptAll(events) {
    const added = [];
    let gap = false;
    for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
      const r = this.accept(e);
      if (r === "added") added.push(e);
      if (r === "gap") gap = true;
    }
    return { added, gap };
  }

  /**
   * Whether the server's newest seq (from a pong or `connection.established`) shows
   * events this client has not seen.
   * @param {number} serverLastSeq
   */
  isBehind(serverLastSeq) {
    return serverLastSeq > this.lastSeq;
  }
}
