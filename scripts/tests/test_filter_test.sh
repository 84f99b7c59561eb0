#!/usr/bin/env bash
# `cargo_test_matching` (scripts/lib.sh) fails a step whose name filter matches no test,
# and passes one that ran tests.
. "$(dirname "$0")/../lib.sh"
if cargo_test_matching no_test_is_called_this --locked -q -p replyx-core >/dev/null 2>&1; then
  echo "FAIL a filter that matched no test passed"; exit 1
fi
echo "ok   a filter that matches no test fails"
cargo_test_matching audience --locked -q -p replyx-core >/dev/null
echo "ok   a filter that matches tests passes"
