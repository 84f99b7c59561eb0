// @ts-check
/**
 * The realtime protocol's constants for browser clients. The blocks between the
 * BEGIN/END markers are JSON and are checked against the server's Rust tables by a test
 * (crates/replyx-server/tests/it/js_constants.rs), so the two cannot drift apart.
 */

/**
 * Close code → what a client does next.
 * Policies: "never" (do not reconnect), "backoff" (jittered exponential backoff),
 * "jittered" (after a random 0.5–5 s, with since), "refresh_token" (new token first),
 * "long_backoff" (30–60 s).
 * @type {Record<string, {name: string, policy: string}>}
 */
export const CLOSE_CODES = /* BEGIN close-codes */ {
  "1000": { "name": "normal", "policy": "never" },
  "1001": { "name": "going_away", "policy": "backoff" },
  "1008": { "name": "policy_violation", "policy": "backoff" },
  "1009": { "name": "too_large", "policy": "backoff" },
  "1011": { "name": "internal_error", "policy": "backoff" },
  "1012": { "name": "service_restart", "policy": "jittered" },
  "1013": { "name": "try_again_later", "policy": "backoff" },
  "4001": { "name": "auth_expired", "policy": "refresh_token" },
  "4002": { "name": "auth_failed", "policy": "never" },
  "4003": { "name": "forbidden_domain", "policy": "never" },
  "4004": { "name": "not_found", "policy": "never" },
  "4008": { "name": "rate_limited", "policy": "long_backoff" },
  "4009": { "name": "replaced", "policy": "never" }
} /* END close-codes */;

/**
 * HTTP error codes and their status.
 * @type {Record<string, number>}
 */
export const ERROR_CODES = /* BEGIN error-codes */ {
  "bad_request": 400,
  "unauthorized": 401,
  "token_expired": 401,
  "session_ended": 401,
  "identity_required": 401,
  "identity_invalid": 401,
  "forbidden": 403,
  "forbidden_origin": 403,
  "not_found": 404,
  "request_timeout": 408,
  "already_taken": 409,
  "operator_capacity": 409,
  "dialog_closed": 409,
  "invalid_transition": 409,
  "conflict": 409,
  "too_large": 413,
  "unsupported_media_type": 415,
  "invalid_shape": 422,
  "rate_limited": 429,
  "unavailable": 503,
  "internal": 500,
  "invalid_frame": 400
} /* END error-codes */;

/** Interval of the client's application-level ping (browsers cannot see protocol pings). */
export const CLIENT_PING_MS = 20000;
/** A ping not answered within this time means the link is dead. */
export const PONG_TIMEOUT_MS = 10000;
