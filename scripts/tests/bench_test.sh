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
# The soak's memory verdict: a series that levels off after warm-up passes, one that
# keeps growing by a tenth in its second half fails.
python3 - <<'PY' || exit 1
import importlib.machinery, importlib.util
loader = importlib.machinery.SourceFileLoader("bench", "scripts/bench")
bench = importlib.util.module_from_spec(importlib.util.spec_from_loader("bench", loader))
loader.exec_module(bench)
flat = [(t, 60_000 + min(t, 300) * 100 + (t % 20)) for t in range(0, 1800, 10)]
leak = [(t, 60_000 + t * 5) for t in range(0, 1800, 10)]
_, _, g_flat = bench.soak_growth(flat, 1800)
_, _, g_leak = bench.soak_growth(leak, 1800)
assert g_flat <= bench.SOAK_GROWTH_LIMIT, f"a flat series judged growing: {g_flat:+.1%}"
assert g_leak > bench.SOAK_GROWTH_LIMIT, f"a growing series judged flat: {g_leak:+.1%}"
print(f"ok   the soak's memory verdict: flat {g_flat:+.1%} passes, growing {g_leak:+.1%} fails")
# A wait for sockets ends as soon as a generator has ended (refused sockets) instead of
# waiting out its deadline (900 s for the capacity run), and says why: only a wait that
# saw the generator end names it; one that ran to its deadline (20 s here) does not.
import subprocess
bench.held_sockets = lambda url: 3
gen = subprocess.Popen(["sh", "-c", "echo 'connect success rate 0.25 failed' >&2; exit 1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    bench.wait_held(["http://unused"], 40, 20, "capacity 40 sockets", [gen])
    raise AssertionError("a wait whose generator ended reported the sockets held")
except bench.BenchFailure as e:
    assert "generator 0 ended" in str(e) and "success rate 0.25 failed" in str(e), str(e)
    print(f"ok   a generator that ended stops the wait for sockets: {e}")
PY
