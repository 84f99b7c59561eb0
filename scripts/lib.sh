# Shared helpers for the scripts in this folder. Sourced.
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

# Installs Debian packages when a command is missing (root only; CI runs as root).
need_debian() { # COMMAND PACKAGE...
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$1 is missing: run 'sudo apt-get install -y ${*:2}' once" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" >/dev/null
}

# Runs `cargo test ARGS... -- FILTER` and fails unless at least one test ran and all
# passed: a name filter that matches nothing would otherwise pass having checked
# nothing (a renamed test, a moved module).
cargo_test_matching() { # FILTER CARGO-TEST-ARGS...
  local filter=$1 out ran
  shift
  if ! out=$(cargo test "$@" -- "$filter" 2>&1); then
    echo "$out"
    return 1
  fi
  ran=$(echo "$out" | sed -nE 's/^test result: ok\. ([0-9]+) passed.*/\1/p' | awk '{s += $1} END {print s + 0}')
  if [ "$ran" -eq 0 ]; then
    echo "$out"
    echo "no test matched '$filter': this step checked nothing" >&2
    return 1
  fi
  echo "$ran test(s) matching '$filter' passed"
}

# Fails (never skips) unless the PostgreSQL server the scale-out tests use answers.
# Each test makes its own database there and drops it afterwards.
need_postgres() {
  local url=${REPLYX_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  need_debian pg_isready postgresql-client
  if ! pg_isready -q -d "$url"; then
    echo "PostgreSQL is not answering at $url; the store and cluster tests need it." >&2
    echo "Start it (Debian: apt-get install postgresql && service postgresql start, trust" >&2
    echo "auth for 127.0.0.1), or set REPLYX_TEST_PG_URL to a server where this user may" >&2
    echo "create databases." >&2
    exit 1
  fi
}
