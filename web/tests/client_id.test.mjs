import { test } from "node:test";
import assert from "node:assert/strict";
import { withClientId } from "../shared/connection.js";

test("every socket URL carries the connection's client_id, replacing any given", () => {
  const url = withClientId("ws://chat.example/ws/widget/dialogs/d1?guest_token=t&since=4", "abcd1234abcd1234");
  const u = new URL(url);
  assert.equal(u.searchParams.get("client_id"), "abcd1234abcd1234");
  assert.equal(u.searchParams.get("since"), "4", "the rest of the query is kept");
  const again = new URL(withClientId(url, "ffff0000ffff0000"));
  assert.deepEqual(again.searchParams.getAll("client_id"), ["ffff0000ffff0000"]);
});
