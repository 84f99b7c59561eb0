#!/usr/bin/env bash
# scripts/bench is an instrument: a tiny fan-out against a working server passes, and
# the same run against a server that refuses sockets (a connection limit of 5 for 40
# sockets) fails instead of reporting figures. Debug binaries, so no release build.
. "$(dirname "$0")/../lib.sh"
cargo build --quiet --locked -p replyx-server -p replyx-testkit --bins
export REPLYX_BENCH_BIN_DIR=$PWD/target/debug
if ! out=$(scripts/bench --smoke 2>&1); then
  echo "$out" | tail -20
  echo "FAIL the bench's smoke run failed against a working server" >&2
  exit 1
fi
echo "ok   the smoke run passes against a working server"
if out=$(REPLYX_BENCH_SERVER_ENV="REPLYX_MAX_CONNECTIONS=5" scripts/bench --smoke 2>&1); then
  echo "$out" | tail -20
  echo "FAIL the bench reported figures for a run whose sockets were refused" >&2
  exit 1
fi
echo "$out" | grep -q "bench FAILED" || { echo "$out" | tail -20; echo "FAIL no reason given" >&2; exit 1; }
echo "ok   a run with refused sockets fails the bench: $(echo "$out" | grep -m1 '^FAILED')"
