import { test } from "node:test";
import assert from "node:assert/strict";
import { decide } from "../shared/close_policy.js";

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
