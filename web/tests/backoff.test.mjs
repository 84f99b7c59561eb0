import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay, restartDelay, longDelay } from "../shared/backoff.js";

test("backoff grows exponentially up to the cap, with full jitter", () => {
  const top = () => 0.999999;
  assert.equal(backoffDelay(0, { random: top }), 499);
  assert.equal(backoffDelay(1, { random: top }), 999);
  assert.equal(backoffDelay(3, { random: top }), 3999);
  assert.equal(backoffDelay(20, { random: top }), 14999, "capped");
  assert.equal(backoffDelay(5, { random: () => 0 }), 0, "jitter reaches down to zero");
});

test("a drained server's clients spread over 0.5–5 s; rate-limited ones over 30–60 s", () => {
  assert.equal(restartDelay(() => 0), 500);
  assert.equal(restartDelay(() => 0.999999), 4999);
  assert.equal(longDelay(() => 0), 30000);
  assert.equal(longDelay(() => 0.999999), 59999);
});
