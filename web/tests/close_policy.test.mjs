import { test } from "node:test";
import assert from "node:assert/strict";
import { decide } from "../shared/close_policy.js";
import { CLOSE_CODES } from "../shared/protocol.js";

const half = () => 0.5;

test("codes that must not reconnect stop the client", () => {
  for (const code of [1000, 4002, 4003, 4004, 4009]) {
    assert.equal(decide(code, 0, half).reconnect, false, String(code));
  }
  assert.equal(/** @type {any} */ (decide(4003, 0, half)).reason, "forbidden_domain");
});

test("a restart reconnects after the jittered restart delay", () => {
  const d = /** @type {any} */ (decide(1012, 0, half));
  assert.equal(d.reconnect, true);
  assert.ok(d.delay >= 500 && d.delay <= 5000, String(d.delay));
});

test("expired auth refreshes the token first; rate limiting waits long", () => {
  assert.equal(/** @type {any} */ (decide(4001, 0, half)).refreshToken, true);
  assert.ok(/** @type {any} */ (decide(4008, 0, half)).delay >= 30000);
});

test("a dropped link (1006, not in the table) backs off and retries", () => {
  const d = /** @type {any} */ (decide(1006, 2, half));
  assert.equal(d.reconnect, true);
  assert.equal(d.reason, "connection_lost");
  assert.equal(d.delay, 1000);
});

test("every code of the table gets exactly its policy's decision", () => {
  const random = () => 0.5;
  const attempt = 2;
  const backoff = 1000; // 0.5 × min(15000, 500 · 2²)
  const want = {
    never: (name) => ({ reconnect: false, reason: name }),
    backoff: (name) => ({ reconnect: true, delay: backoff, refreshToken: false, reason: name }),
    jittered: (name) => ({ reconnect: true, delay: 2750, refreshToken: false, reason: name }),
    refresh_token: (name) => ({ reconnect: true, delay: backoff, refreshToken: true, reason: name }),
    long_backoff: (name) => ({ reconnect: true, delay: 45000, refreshToken: false, reason: name }),
  };
  for (const [code, row] of Object.entries(CLOSE_CODES)) {
    assert.deepEqual(decide(Number(code), attempt, random), want[row.policy](row.name), code);
  }
  assert.deepEqual(decide(1006, attempt, random), want.backoff("connection_lost"));
});
