import { test } from "node:test";
import assert from "node:assert/strict";
import { SeqLog } from "../shared/seq_log.js";

const ev = (seq, prev = seq - 1) => ({ type: "message.created", dialog_id: "d", seq, prev_seq: prev });

test("events are accepted in order, each once", () => {
  const log = new SeqLog();
  assert.equal(log.accept(ev(1)), "added");
  assert.equal(log.accept(ev(2)), "added");
  assert.equal(log.accept(ev(2)), "duplicate");
  assert.equal(log.accept(ev(1)), "duplicate");
  assert.deepEqual(log.events.map((e) => e.seq), [1, 2]);
});

test("a prev_seq past the last seq is a gap, not an event to show", () => {
  const log = new SeqLog();
  log.accept(ev(1));
  assert.equal(log.accept(ev(4)), "gap");
  assert.equal(log.lastSeq, 1);
  const { added, gap } = log.acceptAll([ev(4), ev(2), ev(3)]);
  assert.equal(gap, false);
  assert.deepEqual(added.map((e) => e.seq), [2, 3, 4], "a gap fill merges by seq");
});

test("visitor streams skip note seqs through prev_seq without a false gap", () => {
  const log = new SeqLog();
  log.accept(ev(1));
  assert.equal(log.accept(ev(3, 1)), "added", "seq 2 was an internal note");
});

test("a pong's last_seq reveals events never delivered", () => {
  const log = new SeqLog();
  log.accept(ev(1));
  assert.equal(log.isBehind(1), false);
  assert.equal(log.isBehind(2), true);
});

test("a page reports what it added and whether a gap remains", () => {
  const log = new SeqLog();
  log.accept(ev(1));
  const first = log.acceptAll([ev(1), ev(2), ev(4)]);
  assert.deepEqual(first.added.map((e) => e.seq), [2], "the repeat and the event past the gap are not added");
  assert.equal(first.gap, true, "seq 3 is still missing");
  const second = log.acceptAll([ev(3), ev(4)]);
  assert.deepEqual(second.added.map((e) => e.seq), [3, 4]);
  assert.equal(second.gap, false);
  assert.deepEqual(log.acceptAll([ev(2)]), { added: [], gap: false }, "only repeats: nothing added, no gap");
});
