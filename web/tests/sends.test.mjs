import { test } from "node:test";
import assert from "node:assert/strict";
import { Sends } from "../shared/sends.js";

test("a second send of an id in flight is refused (double click, double Enter)", () => {
  const sends = new Sends();
  assert.deepEqual(sends.begin("m1", "hi"), { clientMsgId: "m1", text: "hi", state: "sending" });
  assert.equal(sends.begin("m1", "hi"), null);
  assert.equal(sends.pending.size, 1);
});

test("a failed send stays as failed and is retried under the same id", () => {
  const sends = new Sends();
  sends.begin("m1", "hi");
  assert.deepEqual(sends.fail("m1"), { clientMsgId: "m1", text: "hi", state: "failed" });
  assert.equal(sends.pending.get("m1")?.state, "failed");
  const retry = sends.begin("m1", "hi");
  assert.deepEqual(retry, { clientMsgId: "m1", text: "hi", state: "sending" }, "a failed one may go again");
  assert.equal(sends.fail("other"), null, "an id never sent is not failed");
});

test("a stored message is settled once, whichever of the POST and the event comes first", () => {
  const sends = new Sends();
  sends.begin("m1", "hi");
  sends.begin("m2", "there");
  assert.equal(sends.settle("m1"), true);
  assert.equal(sends.settle("m1"), false, "the second confirmation shows nothing again");
  assert.equal(sends.settle(undefined), false);
  assert.equal(sends.settle(null), false);
  assert.deepEqual([...sends.pending.keys()], ["m2"]);
  assert.equal(sends.fail("m1"), null, "a settled send cannot fail any more");
});
