#!/usr/bin/env bash
# The instruction-count gate is an instrument: against a baseline 20% below what the
# code costs it fails, against one naming too few workloads it fails, and against the
# checked-in baseline it passes. One cheap workload each, so this costs seconds.
set -euo pipefail
gate=$(cd "$(dirname "$0")/.." && pwd)/check-instructions
baseline=$(cd "$(dirname "$0")/../.." && pwd)/docs/perf/instructions.json
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0 failed=0
expect() { # pass|fail DESCRIPTION COMMAND...
  local want=$1 what=$2
  shift 2
  if "$@" >"$scratch/out" 2>&1; then got=pass; else got=fail; fi
  if [ "$got" = "$want" ]; then
    echo "ok   $what"; passed=$((passed + 1))
  else
    echo "FAIL $what (it would ${got})"; cat "$scratch/out"; failed=$((failed + 1))
  fi
}
python3 - "$baseline" "$scratch" <<'PY'
import json, sys
base = json.load(open(sys.argv[1]))
low = json.loads(json.dumps(base)); low["per_operation"]["client_frame_decode"] = int(base["per_operation"]["client_frame_decode"] / 1.2)
json.dump(low, open(sys.argv[2] + "/low.json", "w"))
short = json.loads(json.dumps(base)); del short["per_operation"]["encode_event"]
json.dump(short, open(sys.argv[2] + "/short.json", "w"))
PY
expect pass "the checked-in baseline passes" "$gate" --only client_frame_decode
expect fail "a workload 20% over its baseline fails" "$gate" --only client_frame_decode --baseline "$scratch/low.json"
expect fail "a baseline without every workload fails" "$gate" --only client_frame_decode --baseline "$scratch/short.json"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
