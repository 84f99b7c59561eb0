// @ts-check
/**
 * Operator sockets open with a single-use ticket, never with the token in the URL
 * (URLs end up in proxy access logs). Each (re)connect asks for a fresh ticket.
 */

import { request } from "../shared/http.js";

/**
 * The ws:// URL of `path` with a fresh ticket for the session of `token`.
 * Rejects with the API error (status 401 when the session has ended).
 * @param {string} path a socket path, with its query if any
 * @param {string} token
 * @returns {Promise<string>}
 */
export async function socketUrl(path, token) {
  const { ticket } = await request("/api/auth/ws-ticket", { token, body: {} });
  const url = new URL(path, location.origin.replace(/^http/, "ws"));
  url.searchParams.set("ticket", ticket);
  return url.toString();
}
