// A proxy between the browser and a real `replyx` server that can drop, hold back,
// duplicate and release out of order the frames the server sends on WebSockets — the
// network faults the client's recovery paths exist for. HTTP is passed through as is;
// each WebSocket is terminated here and re-opened to the server (with `ws`), so close
// codes are passed on too.

import { EventEmitter } from "node:events";
import http from "node:http";
import { WebSocket, WebSocketServer } from "ws";
import { freePort } from "./harness.mjs";

/**
 * @typedef {"pass" | "drop" | "hold" | "duplicate"} Fault
 * @typedef {(frame: any) => Fault} Rule  decides per server → client JSON frame
 */

/**
 * Starts a proxy on a free port in front of `target` (http://host:port).
 * @param {string} target
 */
export async function startFaultProxy(target) {
  const upstream = new URL(target);
  const port = await freePort();
  /** @type {Rule} */
  let rule = () => "pass";
  /** @type {{client: WebSocket, data: import("ws").RawData}[]} */
  let held = [];
  /** @type {Set<WebSocket>} */
  const clients = new Set();
  /** @type {string[]} */
  const socketUrls = [];
  /** Emits "drop", "hold", "duplicate" with the frame, and "socket" with its URL. */
  const events = new EventEmitter();

  const server = http.createServer((req, res) => {
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode || 502, reply.headers);
        reply.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (client) => {
      socketUrls.push(req.url || "");
      events.emit("socket", req.url || "");
      clients.add(client);
      const headers = req.headers.origin ? { origin: req.headers.origin } : {};
      const toServer = new WebSocket(`ws://${upstream.host}${req.url}`, { headers });
      /** @type {import("ws").RawData[]} */
      const early = [];
      toServer.on("open", () => early.splice(0).forEach((d) => toServer.send(d)));
      client.on("message", (data) => (toServer.readyState === WebSocket.OPEN ? toServer.send(data) : early.push(data)));
      toServer.on("message", (data) => {
        let frame = null;
        try {
          frame = JSON.parse(data.toString());
        } catch {
          // Not JSON: passed on as is.
        }
        const fault = frame ? rule(frame) : "pass";
        if (fault !== "pass") events.emit(fault, frame);
        if (fault === "drop") return;
        if (fault === "hold") {
          held.push({ client, data });
          return;
        }
        client.send(data.toString());
        if (fault === "duplicate") client.send(data.toString());
      });
      toServer.on("close", (code, reason) => {
        clients.delete(client);
        if (client.readyState !== WebSocket.OPEN) return;
        // No close frame from the server (1005, 1006): none to the browser either.
        if (code === 1005 || code === 1006) client.terminate();
        else client.close(closable(code), reason.toString());
      });
      toServer.on("error", () => client.terminate());
      client.on("close", () => {
        clients.delete(client);
        toServer.close();
      });
    });
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", () => ok(undefined)));

  return {
    base: `http://127.0.0.1:${port}`,
    /** The path and query of every socket the browser opened, in order. */
    socketUrls,
    events,
    /** @param {Rule} next what happens to each frame from now on */
    setRule(next) {
      rule = next;
    },
    /** Frames held back so far. */
    held: () => held.length,
    /** Sends what was held back (reversed: out of order) and passes what follows. */
    release({ reversed = false } = {}) {
      rule = () => "pass";
      const frames = held;
      held = [];
      if (reversed) frames.reverse();
      for (const { client, data } of frames) if (client.readyState === WebSocket.OPEN) client.send(data.toString());
    },
    /** Cuts every browser socket without a close frame, as a lost link would. */
    cutSockets() {
      for (const c of clients) c.terminate();
    },
    close() {
      for (const c of clients) c.terminate();
      return new Promise((ok) => {
        wss.close();
        server.close(() => ok(undefined));
        server.closeAllConnections();
      });
    },
  };
}

/**
 * A close code the proxy may send on (`ws` refuses the reserved ones).
 * @param {number} code
 */
function closable(code) {
  return code === 1000 || (code >= 1001 && code <= 1014 && code !== 1004) || (code >= 3000 && code <= 4999) ? code : 1011;
}
