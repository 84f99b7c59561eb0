// The shipped widget stays small: every file a visitor's browser loads, gzipped. The
// files are found by following the imports from the loader and the frame page, so a
// module added to the widget is counted without anyone remembering to list it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { posix } from "node:path";

const ENTRIES = ["widget/widget.js", "widget/embed.js", "widget/frame.html", "widget/frame.js"];

/** @param {string} file path under web/ */
const read = (file) => readFileSync(fileURLToPath(new URL(`../${file}`, import.meta.url)));

/** Every file the entries reach through static and dynamic relative imports. */
export function widgetFiles() {
  const seen = new Set();
  const queue = [...ENTRIES];
  while (queue.length) {
    const file = /** @type {string} */ (queue.shift());
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.endsWith(".js")) continue;
    const source = read(file).toString();
    for (const m of source.matchAll(/(?:from|import\()\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      queue.push(posix.normalize(posix.join(posix.dirname(file), m[1])));
    }
  }
  return [...seen].sort();
}

test("the widget's files are found by following its imports", () => {
  const files = widgetFiles();
  for (const f of ["widget/chat.js", "widget/ui/panel.js", "widget/ui/history.js", "shared/sends.js", "shared/connection.js"]) {
    assert.ok(files.includes(f), `${f} missing from ${files}`);
  }
  assert.ok(!files.some((f) => f.startsWith("console/")), "no console module in the widget");
});

test("the widget is under 30 KB gzipped", () => {
  const files = widgetFiles();
  let raw = 0;
  let gzipped = 0;
  for (const f of files) {
    const bytes = read(f);
    raw += bytes.length;
    gzipped += gzipSync(bytes, { level: 9 }).length;
  }
  console.log(`widget: ${files.length} files, ${raw} bytes, ${gzipped} bytes gzipped (each file alone)`);
  assert.ok(gzipped < 30 * 1024, `${gzipped} bytes gzipped`);
});
