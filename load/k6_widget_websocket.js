// k6 load test of the widget way in. Each virtual user is one visitor/operator pair:
// it loads (or creates) a widget dialog over HTTP, opens the widget socket with
// `since`, and exchanges messages with an operator over HTTP. It measures connection
// success and end-to-end delivery latency (from the send timestamp in the message to
// its arrival on the visitor's socket) and audits the socket's stream against the
// dialog's whole stored log, keyed by (dialog, seq): nothing lost, repeated, out of
// order or unexpected, nothing from another dialog.
//
// The server refuses a socket by upgrading it and closing with a code (4008, 1013, …),
// so a close before `replay.complete` counts as a failed connection, like an error.
// Every threshold that a run without data would pass vacuously has a companion that
// needs data: a run where no socket ever went live, or nothing was audited, fails.
//
// Environment:
//   BASE_URL (http://127.0.0.1:8080)  ASSISTANT_ID  OPERATOR_EMAIL  OPERATOR_PASSWORD
//   SCENARIO: steady | ramp | storm | smoke (default steady)
//   VUS (20)  DURATION (30s)  MESSAGE_INTERVAL_MS (1000)
//
//   k6 run -e ASSISTANT_ID=… -e OPERATOR_EMAIL=… -e OPERATOR_PASSWORD=… load/k6_widget_websocket.js

import http from "k6/http";
import { check, fail } from "k6";
import { WebSocket } from "k6/experimental/websockets";
import { setTimeout, setInterval, clearInterval } from "k6/timers";
import { Counter, Rate, Trend } from "k6/metrics";

const BASE = (__ENV.BASE_URL || "http://127.0.0.1:8080").replace(/\/$/, "");
const WS_BASE = BASE.replace(/^http/, "ws");
const SCENARIO = __ENV.SCENARIO || "steady";
const VUS = Number(__ENV.VUS || 20);
const DURATION = __ENV.DURATION || "30s";
const INTERVAL = Number(__ENV.MESSAGE_INTERVAL_MS || 1000);
const SESSION_MS = Number(__ENV.SESSION_MS || 10000);
const RUN = `${Date.now().toString(36)}`;

const connectSuccess = new Rate("ws_connect_success");
const deliveryLatency = new Trend("delivery_latency", true);
const eventsLost = new Counter("events_lost");
const eventsDuplicated = new Counter("events_duplicated");
const eventsDelivered = new Counter("events_delivered");
const eventsMisrouted = new Counter("events_misrouted");
const eventsUnexpected = new Counter("events_unexpected");
const eventsOutOfOrder = new Counter("events_out_of_order");
const liveSessions = new Counter("ws_sessions_live");
const refused = new Counter("ws_refused");
const auditFailures = new Counter("audit_failures");
const latencySamples = new Counter("delivery_latency_samples");
const reconnects = new Counter("reconnects");

const scenarios = {
  smoke: { executor: "constant-vus", vus: 5, duration: "10s" },
  steady: { executor: "constant-vus", vus: VUS, duration: DURATION },
  ramp: {
    executor: "ramping-vus",
    startVUs: 0,
    stages: [
      { duration: "20s", target: VUS },
      { duration: DURATION, target: VUS },
      { duration: "10s", target: 0 },
    ],
  },
  storm: { executor: "per-vu-iterations", vus: VUS, iterations: 1, maxDuration: "2m" },
};

export const options = {
  scenarios: { [SCENARIO]: scenarios[SCENARIO] },
  thresholds: {
    ws_connect_success: ["rate>=0.999"],
    ws_sessions_live: ["count>0"],
    ws_refused: ["count==0"],
    delivery_latency: ["p(99)<100"],
    delivery_latency_samples: ["count>0"],
    events_delivered: ["count>0"],
    events_lost: ["count==0"],
    events_duplicated: ["count==0"],
    events_misrouted: ["count==0"],
    events_unexpected: ["count==0"],
    events_out_of_order: ["count==0"],
    audit_failures: ["count==0"],
    checks: ["rate>=0.999"],
  },
};

export function setup() {
  const res = http.post(`${BASE}/api/auth/login`, JSON.stringify({
    email: __ENV.OPERATOR_EMAIL, password: __ENV.OPERATOR_PASSWORD,
  }), { headers: { "content-type": "application/json" } });
  if (res.status !== 200) fail(`operator login failed: ${res.status} ${res.body}`);
  return { token: res.json("token") };
}

function json(body) {
  return { headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/**
 * The dialog's whole admin log after `since`, page by page; null when a page cannot be
 * read or the pages do not reach the dialog's `last_seq` (an unread log must fail the
 * audit, never pass it as empty).
 */
function readLog(dialog, since, token) {
  const events = [];
  let after = since;
  for (;;) {
    const res = http.get(`${BASE}/api/dialogs/${dialog}/events?since=${after}&limit=500`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) return null;
    const page = res.json("events");
    events.push(...page);
    if (page.length < 500) {
      const newest = events.length ? events[events.length - 1].seq : since;
      return newest === Math.max(res.json("last_seq"), since) ? events : null;
    }
    after = page[page.length - 1].seq;
  }
}

function post(url, body, token) {
  const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
  return http.post(url, JSON.stringify(body), { headers });
}

export default function (data) {
  const load = http.post(`${BASE}/api/widget/dialogs`, json({
    assistant_id: __ENV.ASSISTANT_ID, guest_id: `k6-${RUN}-${__VU}`,
  }).body, json({}));
  if (!check(load, { "dialog loads": (r) => r.status === 200 || r.status === 201 })) return;
  const dialog = load.json("dialog.id");
  const guestToken = load.json("guest_token");
  const firstSeq = load.json("dialog.last_seq");
  const seen = [];
  let last = firstSeq;
  let sent = 0;

  const open = (since, onLive) => {
    const url = `${WS_BASE}/ws/widget/dialogs/${dialog}?assistant_id=${__ENV.ASSISTANT_ID}&guest_token=${guestToken}&since=${since}`;
    const ws = new WebSocket(url);
    let live = false;
    let failed = false;
    // A socket that never went live is one failed connection, whether it ended with
    // an error, a close code (the server's refusals), or both.
    const notLive = (code) => {
      if (live || failed) return;
      failed = true;
      connectSuccess.add(0);
      refused.add(1, { code: String(code) });
    };
    ws.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      if (frame.type === "replay.complete" && !live) {
        live = true;
        connectSuccess.add(1);
        liveSessions.add(1);
        onLive(ws);
      }
      if (typeof frame.seq === "number") {
        // Every dialog numbers its events from 1: another dialog's seq must never
        // fill the place of one of ours.
        if (frame.dialog_id !== dialog) {
          eventsMisrouted.add(1);
          return;
        }
        seen.push(frame.seq);
        if (frame.seq > last) last = frame.seq;
        const text = frame.message && frame.message.text;
        const stamp = text && /^operator (\d+)$/.exec(text);
        if (stamp) {
          deliveryLatency.add(Date.now() - Number(stamp[1]));
          latencySamples.add(1);
        }
      }
    };
    ws.onerror = () => notLive("error");
    ws.onclose = (event) => notLive(event && event.code !== undefined ? event.code : "none");
    return ws;
  };

  const exchange = (ws) => {
    const timer = setInterval(() => {
      sent += 1;
      const visitorTurn = sent % 2 === 1;
      const res = visitorTurn
        ? post(`${BASE}/api/widget/dialogs/${dialog}/messages`, { text: `visitor ${sent}`, client_msg_id: `${RUN}-${__VU}-${__ITER}-${sent}` }, guestToken)
        : post(`${BASE}/api/dialogs/${dialog}/messages`, { text: `operator ${Date.now()}`, client_msg_id: `${RUN}-${__VU}-${__ITER}-${sent}` }, data.token);
      check(res, { "message stored": (r) => r.status === 201 || r.status === 200 });
    }, INTERVAL);
    return timer;
  };

  const finish = (ws, timer) => {
    clearInterval(timer);
    // Let the last events arrive, then audit the stream against the server's log.
    setTimeout(() => {
      ws.close();
      const events = readLog(dialog, firstSeq, data.token);
      if (events === null) {
        auditFailures.add(1);
        return;
      }
      // The widget's stream leaves internal notes out.
      const expected = events.filter((e) => !(e.message && e.message.internal)).map((e) => e.seq);
      const got = new Set(seen);
      const owed = new Set(expected);
      eventsDelivered.add(expected.filter((s) => got.has(s)).length);
      eventsLost.add(expected.filter((s) => !got.has(s)).length);
      eventsDuplicated.add(seen.length - got.size);
      // Received but not owed: not in the log, or an internal note on a visitor socket.
      eventsUnexpected.add([...got].filter((s) => !owed.has(s)).length);
      eventsOutOfOrder.add(seen.filter((s, i) => i > 0 && s <= seen[i - 1]).length);
    }, 1000);
  };

  if (SCENARIO === "storm") {
    // Reconnect storm: every socket drops at the same moment and resumes with since.
    open(firstSeq, (ws) => {
      const timer = exchange(ws);
      setTimeout(() => {
        ws.close();
        reconnects.add(1);
        open(last, (again) => setTimeout(() => finish(again, timer), SESSION_MS / 2));
      }, SESSION_MS / 2);
    });
  } else {
    open(firstSeq, (ws) => {
      const timer = exchange(ws);
      setTimeout(() => finish(ws, timer), SESSION_MS);
    });
  }
}
