// @ts-check
/** Reconnect delays. Pure functions; `random` is injectable for tests. */

/**
 * Exponential backoff with full jitter: a random delay in [0, min(max, base·2^attempt)].
 * @param {number} attempt 0 for the first retry
 * @param {{base?: number, max?: number, random?: () => number}} [options]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, options = {}) {
  const { base = 500, max = 15000, random = Math.random } = options;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/**
 * After a server restart (close 1012): a random 0.5–5 s, so a drained server's clients
 * do not all arrive at the new one at once.
 * @param {() => number} [random]
 */
export function restartDelay(random = Math.random) {
  return 500 + Math.floor(random() * 4500);
}

/**
 * After rate limiting (close 4008): a random 30–60 s.
 * @param {() => number} [random]
 */
export function longDelay(random = Math.random) {
  return 30000 + Math.floor(random() * 30000);
}
