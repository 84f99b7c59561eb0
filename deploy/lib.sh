# Shared by safe-deploy.sh and rollback.sh: settings, logging, the runner, nginx
# switching, readiness and probes. Sourced, not run.
# shellcheck shell=bash

set -euo pipefail

DEPLOY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Settings: the environment, then deploy.env beside this file (or $REPLYX_DEPLOY_ENV).
env_file=${REPLYX_DEPLOY_ENV:-$DEPLOY_ROOT/deploy.env}
if [ -f "$env_file" ]; then
  # shellcheck disable=SC1090
  set -a; . "$env_file"; set +a
fi

: "${REPLYX_RUNNER:=local}"                       # local | compose
: "${REPLYX_DEPLOY_STATE:=/var/lib/replyx-deploy}" # active colour, pids, logs
: "${PUBLIC_URL:=http://127.0.0.1:8080}"           # through nginx
: "${BLUE_URL:=http://127.0.0.1:8081}"             # blue, directly
: "${GREEN_URL:=http://127.0.0.1:8082}"            # green, directly
: "${NGINX_ACTIVE_UPSTREAM:=/etc/nginx/replyx/active-upstream.conf}"
: "${NGINX_TEST:=nginx -t -q}"
: "${NGINX_RELOAD:=nginx -s reload}"
: "${REPLYX_BIN:=replyx}"
: "${PROBE_ASSISTANT_ID:?PROBE_ASSISTANT_ID must name the assistant the probe talks to}"
: "${PROBE_MAX_LATENCY:=500ms}"
: "${WATCH_MAX_LATENCY:=$PROBE_MAX_LATENCY}"
: "${READY_TIMEOUT:=60}"                           # seconds
: "${DRAIN_TIMEOUT:=45}"                           # seconds; above REPLYX_DRAIN_GRACE
: "${WATCH_INTERVAL:=15}"                          # seconds
: "${WATCH_COUNT:=20}"
: "${SMOKE_CMD:=}"                                 # extra checks: run with $1 = the new colour's URL

mkdir -p "$REPLYX_DEPLOY_STATE"

step() { printf '\n[%s] ==> %s\n' "$(date -u +%H:%M:%S)" "$*"; }
info() { printf '[%s]     %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf '[%s] FAILED: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; exit 1; }

# shellcheck disable=SC1090
. "$DEPLOY_ROOT/runners/$REPLYX_RUNNER.sh"

other() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }
colour_url() { if [ "$1" = blue ]; then echo "$BLUE_URL"; else echo "$GREEN_URL"; fi; }
active_colour() { cat "$REPLYX_DEPLOY_STATE/active" 2>/dev/null || true; }

# The upstream address of a colour, from its URL (http://HOST:PORT → HOST:PORT).
colour_addr() { colour_url "$1" | sed -E 's#^[a-z]+://##; s#/.*$##'; }

probe() { # URL [max latency]
  "$REPLYX_BIN" probe --url "$1" --assistant-id "$PROBE_ASSISTANT_ID" --max-latency "${2:-$PROBE_MAX_LATENCY}"
}

wait_ready() { # COLOUR
  local url deadline
  url="$(colour_url "$1")/health/ready"
  deadline=$(( $(date +%s) + READY_TIMEOUT ))
  until curl -fsS -o /dev/null --max-time 2 "$url"; do
    runner_running "$1" || { info "$1 is not running"; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { info "$1 not ready after ${READY_TIMEOUT}s"; return 1; }
    sleep 0.5
  done
  info "$1 is ready at $url"
}

switch_to() { # COLOUR
  local tmp
  tmp="$NGINX_ACTIVE_UPSTREAM.tmp"
  mkdir -p "$(dirname "$NGINX_ACTIVE_UPSTREAM")"
  printf '# written by deploy/lib.sh: the active colour is %s\nupstream replyx_active {\n    server %s max_fails=0;\n    keepalive 32;\n}\n' \
    "$1" "$(colour_addr "$1")" >"$tmp"
  mv "$tmp" "$NGINX_ACTIVE_UPSTREAM"
  $NGINX_TEST || die "nginx rejected the new upstream for $1"
  $NGINX_RELOAD || die "nginx reload failed"
  echo "$1" >"$REPLYX_DEPLOY_STATE/active"
  wait_switched "$1" || die "nginx still does not reach $1 after the reload"
  info "nginx now sends new connections to $1 ($(colour_addr "$1"))"
}

instance_of() { # URL: the process id /health/websocket reports
  curl -fsS --max-time 2 "$1/health/websocket" 2>/dev/null | sed -nE 's/.*"instance":"([^"]+)".*/\1/p'
}

# `nginx -s reload` only signals the master; until its new workers run, old ones still
# route new connections to the previous colour. Wait until three requests in a row
# through nginx reach the new colour's process.
wait_switched() { # COLOUR
  local want got in_a_row=0 deadline
  want=$(instance_of "$(colour_url "$1")")
  [ -n "$want" ] || return 1
  deadline=$(( $(date +%s) + 15 ))
  while [ "$in_a_row" -lt 3 ]; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    got=$(instance_of "$PUBLIC_URL")
    if [ "$got" = "$want" ]; then in_a_row=$((in_a_row + 1)); else in_a_row=0; sleep 0.1; fi
  done
}

drain() { # COLOUR: SIGTERM, wait for a clean exit within DRAIN_TIMEOUT
  local started code
  started=$(date +%s)
  runner_stop "$1" "$DRAIN_TIMEOUT"
  code=$(runner_exit_code "$1")
  info "$1 exited with code ${code:-unknown} after $(( $(date +%s) - started ))s"
  [ "$code" = 0 ] || info "warning: $1 did not exit cleanly"
}
