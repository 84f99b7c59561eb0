#!/usr/bin/env bash
# The changelog rule, in scratch repositories: it fails a realtime change without a
# changelog line and passes it with one, whichever base it finds (an explicit one, the
# previous commit, the first commit's empty tree), and it fails — never skips — when it
# cannot determine a base.
set -euo pipefail
rule=$(cd "$(dirname "$0")/.." && pwd)/check-changelog
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0 failed=0
expect() { # pass|fail DESCRIPTION COMMAND...
  local want=$1 what=$2
  shift 2
  if "$@" >/dev/null 2>&1; then got=pass; else got=fail; fi
  if [ "$got" = "$want" ]; then
    echo "ok   $what"; passed=$((passed + 1))
  else
    echo "FAIL $what (it would ${got})"; failed=$((failed + 1))
  fi
}
unset GITHUB_BASE_REF CHANGELOG_BASE

repo=$scratch/repo
mkdir -p "$repo" && cd "$repo"
git init -q -b main . && git config user.email t@example.test && git config user.name t
mkdir -p scripts crates/replyx-server/src/ws docs/websocket && cp "$rule" scripts/check-changelog
echo "fn a() {}" >crates/replyx-server/src/ws/session.rs
git add -A && git commit -qm "first commit: realtime code, no changelog"
expect fail "the first commit with realtime code and no changelog fails (base: the empty tree)" scripts/check-changelog
echo "# log" >docs/websocket/CHANGELOG.md && git add -A && git commit -q --amend -m first
expect pass "the first commit with a changelog passes" scripts/check-changelog
git branch -q base

git checkout -q -b change
echo "fn b() {}" >>crates/replyx-server/src/ws/session.rs && git commit -qam "realtime change"
expect fail "a realtime change without a changelog line fails (explicit base)" env CHANGELOG_BASE=base scripts/check-changelog
expect fail "... and with no base given (the previous commit)" scripts/check-changelog
echo "fn c() {}" >>crates/replyx-server/src/ws/session.rs
expect fail "an uncommitted realtime change without a line fails" scripts/check-changelog
git checkout -q -- crates
mkdir -p crates/replyx-server/src/hub && echo "fn new() {}" >crates/replyx-server/src/hub/new_file.rs
expect fail "a new realtime file not yet added to git counts" scripts/check-changelog
rm crates/replyx-server/src/hub/new_file.rs
echo "- changed the session" >>docs/websocket/CHANGELOG.md && git commit -qam "changelog"
expect pass "with a changelog line it passes (explicit base)" env CHANGELOG_BASE=base scripts/check-changelog
expect pass "an all-zero base (a new branch's push) falls back to the previous commit" env CHANGELOG_BASE=0000000000000000000000000000000000000000 scripts/check-changelog
expect fail "a base that does not exist is an error, not a skip" env CHANGELOG_BASE=no-such-ref scripts/check-changelog
sed -i '$d' docs/websocket/CHANGELOG.md && echo "fn d() {}" >>crates/replyx-server/src/ws/session.rs && git commit -qam "line removed, code changed"
expect fail "removing a changelog line is not adding one" scripts/check-changelog

git checkout -q base && git checkout -q -b docs && echo x >README.md && git add README.md && git commit -qm docs
expect pass "a change outside realtime code needs no line" env CHANGELOG_BASE=base scripts/check-changelog
expect pass "... nor with the previous commit as base" scripts/check-changelog
git checkout -q base && git checkout -q -b tests-only
mkdir -p crates/replyx-bus/tests crates/replyx-bus/src && echo "#[test] fn t() {}" >crates/replyx-bus/tests/buses.rs
git add -A && git commit -qm "a bus test"
expect pass "a change to a crate's tests/ folder only needs no line" scripts/check-changelog
echo "fn f() {}" >crates/replyx-bus/src/lib.rs && echo "#[test] fn u() {}" >>crates/replyx-bus/tests/buses.rs
git add -A && git commit -qm "bus code and test"
expect fail "... but bus code changed beside its test still needs one" scripts/check-changelog
mkdir -p crates/replyx-core/src && echo "fn g() {}" >crates/replyx-core/src/delivery.rs
expect fail "the core crate's delivery rules are realtime code" scripts/check-changelog
rm -r crates/replyx-core && git checkout -q docs

# A clone whose branch is ahead of origin/main by two commits: the whole branch counts,
# not only its last commit (which touches only the changelog).
git clone -q "file://$repo" "$scratch/ahead" 2>/dev/null
(
  cd "$scratch/ahead" && git config user.email t@example.test && git config user.name t
  git checkout -q -b main-work origin/base 2>/dev/null || git checkout -q -b main-work
  git branch -q -f main HEAD && git update-ref refs/remotes/origin/main HEAD
  echo "fn e() {}" >>crates/replyx-server/src/ws/session.rs && git commit -qam "realtime, no line"
  echo "- only docs" >>README.md && git add README.md && git commit -qm "docs"
)
expect fail "a branch ahead of origin/main is checked as a whole" "$scratch/ahead/scripts/check-changelog"

git clone -q --depth 1 "file://$repo" "$scratch/shallow" 2>/dev/null
expect pass "a shallow clone is deepened from its remote and checked" "$scratch/shallow/scripts/check-changelog"
git clone -q --depth 1 "file://$repo" "$scratch/cut-off" 2>/dev/null
git -C "$scratch/cut-off" remote remove origin
expect fail "a shallow clone that cannot be deepened is an error, not a skip" "$scratch/cut-off/scripts/check-changelog"
git -C "$repo" checkout -q change
git clone -q --depth 1 "file://$repo" "$scratch/shallow-change" 2>/dev/null
expect fail "a deepened shallow clone still fails a realtime change without a line" "$scratch/shallow-change/scripts/check-changelog"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
