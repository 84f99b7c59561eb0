// @ts-check
/** What to do after a socket closes, from the protocol's close-code table. */

import { CLOSE_CODES } from "./protocol.js";
import { backoffDelay, longDelay, restartDelay } from "./backoff.js";

/**
 * @typedef {{reconnect: false, reason: string}
 *   | {reconnect: true, delay: number, refreshToken: boolean, reason: string}} CloseDecision
 */

/**
 * Decides the next step after a close with `code`.
 * Codes outside the table (1005, 1006: the link dropped) are treated as "backoff".
 * @param {number} code
 * @param {number} attempt consecutive failed attempts so far
 * @param {() => number} [random]
 * @returns {CloseDecision}
 */
export function decide(code, attempt, random = Math.random) {
  const row = CLOSE_CODES[String(code)];
  const reason = row ? row.name : "connection_lost";
  // A code outside the table has no row and falls to the default: backoff.
  switch (row && row.policy) {
    case "never":
      return { reconnect: false, reason };
    case "jittered":
      return { reconnect: true, delay: restartDelay(random), refreshToken: false, reason };
    case "refresh_token":
      return { reconnect: true, delay: backoffDelay(attempt, { random }), refreshToken: true, reason };
    case "long_backoff":
      return { reconnect: true, delay: longDelay(random), refreshToken: false, reason };
    default:
      return { reconnect: true, delay: backoffDelay(attempt, { random }), refreshToken: false, reason };
  }
}
