#!/usr/bin/env bash
# The changelog rule fails a realtime change without a changelog line and passes it with
# one, in a scratch repository.
set -euo pipefail
rule=$(cd "$(dirname "$0")/.." && pwd)/check-changelog
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
git init -q -b main . && git config user.email t@example.test && git config user.name t
mkdir -p scripts crates/replyx-server/src/ws docs/websocket && cp "$rule" scripts/check-changelog
echo "fn a() {}" >crates/replyx-server/src/ws/session.rs && echo "# log" >docs/websocket/CHANGELOG.md
git add -A && git commit -qm base && git branch -q base
git checkout -q -b change
echo "fn b() {}" >>crates/replyx-server/src/ws/session.rs && git commit -qam "realtime change"
passed=0 failed=0
if CHANGELOG_BASE=base scripts/check-changelog >/dev/null 2>&1; then
  echo "FAIL a realtime change without a changelog line passed"; failed=$((failed + 1))
else
  echo "ok   a realtime change without a changelog line fails"; passed=$((passed + 1))
fi
echo "- changed the session" >>docs/websocket/CHANGELOG.md && git commit -qam "changelog"
if CHANGELOG_BASE=base scripts/check-changelog >/dev/null 2>&1; then
  echo "ok   with a changelog line it passes"; passed=$((passed + 1))
else
  echo "FAIL with a changelog line it still fails"; failed=$((failed + 1))
fi
git checkout -q base && git checkout -q -b docs && echo x >README.md && git add README.md && git commit -qm docs
if CHANGELOG_BASE=base scripts/check-changelog >/dev/null 2>&1; then
  echo "ok   a change outside realtime code needs no line"; passed=$((passed + 1))
else
  echo "FAIL a docs-only change was refused"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
