// The shipped widget stays small: every file a visitor's browser loads, gzipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const files = [
  "widget/widget.js", "widget/embed.js", "widget/frame.html", "widget/frame.js", "widget/chat.js",
  "widget/i18n.js", "widget/ui/panel.js", "widget/ui/messages.js", "widget/ui/styles.js",
  "shared/protocol.js", "shared/backoff.js", "shared/close_policy.js", "shared/seq_log.js",
  "shared/http.js", "shared/connection.js",
];

test("the widget is under 30 KB gzipped", () => {
  let raw = 0;
  let gzipped = 0;
  for (const f of files) {
    const bytes = readFileSync(fileURLToPath(new URL(`../${f}`, import.meta.url)));
    raw += bytes.length;
    gzipped += gzipSync(bytes, { level: 9 }).length;
  }
  console.log(`widget: ${files.length} files, ${raw} bytes, ${gzipped} bytes gzipped (each file alone)`);
  assert.ok(gzipped < 30 * 1024, `${gzipped} bytes gzipped`);
});
