import { test } from "node:test";
import assert from "node:assert/strict";
import { SocketSends, ACK_TIMEOUT_MS } from "../shared/socket_sends.js";

/** A socket stand-in that records what was written. */
function socket(open = true) {
  const frames = [];
  return { frames, transmit: (f) => (open ? (frames.push(f), true) : false) };
}

test("a send writes one message.send frame and resolves with its ack", async () => {
  const sends = new SocketSends();
  const s = socket();
  const outcome = sends.send(s.transmit, "hi", "m1");
  assert.deepEqual(s.frames, [{ type: "message.send", text: "hi", client_msg_id: "m1" }]);
  assert.equal(sends.onFrame({ type: "message.ack", client_msg_id: "other", seq: 3, duplicate: false }), false);
  const ack = { type: "message.ack", client_msg_id: "m1", seq: 4, duplicate: false };
  assert.equal(sends.onFrame(ack), true);
  assert.deepEqual(await outcome, { ack });
  assert.equal(sends.onFrame(ack), false, "a second answer finds nothing waiting");
  assert.equal(sends.waiting.size, 0);
});

test("an error frame with the send's key refuses it; other frames and errors do not", async () => {
  const sends = new SocketSends();
  const outcome = sends.send(socket().transmit, "x".repeat(10), "m1");
  assert.equal(sends.onFrame({ type: "error", code: "invalid_frame", message: "bad" }), false);
  assert.equal(sends.onFrame({ type: "message.created", seq: 1 }), false);
  assert.equal(sends.onFrame({ type: "pong", client_msg_id: "m1" }), false, "only an error or an ack answers");
  const error = { type: "error", code: "too_large", message: "long", client_msg_id: "m1" };
  assert.equal(sends.onFrame(error), true);
  assert.deepEqual(await outcome, { error });
});

test("no open socket, a closed socket, or no answer in time leave the send unanswered", async (t) => {
  const sends = new SocketSends();
  assert.equal(await sends.send(socket(false).transmit, "hi", "m1"), null, "nothing written");
  const a = sends.send(socket().transmit, "a", "m2");
  const b = sends.send(socket().transmit, "b", "m3");
  sends.abandonAll();
  assert.deepEqual([await a, await b], [null, null]);
  assert.equal(sends.waiting.size, 0);

  t.mock.timers.enable({ apis: ["setTimeout"] });
  const late = sends.send(socket().transmit, "c", "m4");
  t.mock.timers.tick(ACK_TIMEOUT_MS - 1);
  assert.equal(sends.waiting.size, 1, "still waiting just before the timeout");
  t.mock.timers.tick(1);
  assert.equal(await late, null);
  assert.equal(sends.onFrame({ type: "message.ack", client_msg_id: "m4", seq: 9, duplicate: false }), false);
});

test("sending an id again replaces the wait of the first try", async () => {
  const sends = new SocketSends();
  const first = sends.send(socket().transmit, "hi", "m1");
  const second = sends.send(socket().transmit, "hi", "m1");
  assert.equal(await first, null, "the first try gives way (its answer would be the same)");
  const ack = { type: "message.ack", client_msg_id: "m1", seq: 2, duplicate: true };
  sends.onFrame(ack);
  assert.deepEqual(await second, { ack });
});
