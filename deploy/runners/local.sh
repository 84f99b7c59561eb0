# Runner: plain processes on this host (development, tests, single-machine installs).
# Each colour runs `replyx serve` with the common environment ($LOCAL_ENV_FILE), its own
# address (from BLUE_URL / GREEN_URL) and optional overrides (BLUE_EXTRA_ENV /
# GREEN_EXTRA_ENV, space-separated KEY=VALUE). A wrapper records the exit code.
# shellcheck shell=bash

: "${LOCAL_ENV_FILE:=}"

_pidfile() { echo "$REPLYX_DEPLOY_STATE/$1.pid"; }

runner_running() {
  local pid
  pid=$(cat "$(_pidfile "$1")" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null
}

runner_start() { # COLOUR
  if runner_running "$1"; then info "$1 already running (pid $(cat "$(_pidfile "$1")"))"; return 0; fi
  local extra_var extra log
  extra_var="$(echo "$1" | tr '[:lower:]' '[:upper:]')_EXTRA_ENV"
  extra=${!extra_var:-}
  log="$REPLYX_DEPLOY_STATE/$1.log"
  rm -f "$REPLYX_DEPLOY_STATE/$1.exit"
  (
    if [ -n "$LOCAL_ENV_FILE" ]; then set -a; . "$LOCAL_ENV_FILE"; set +a; fi
    export REPLYX_BIND="$(colour_addr "$1")"
    # shellcheck disable=SC2086
    [ -z "$extra" ] || export $extra
    exec setsid sh -c '"$0" serve; echo $? >"$1"' "$REPLYX_BIN" "$REPLYX_DEPLOY_STATE/$1.exit" >>"$log" 2>&1 </dev/null
  ) &
  echo $! >"$(_pidfile "$1")"
  info "started $1 (pid $!, log $log)"
}

runner_stop() { # COLOUR TIMEOUT
  runner_running "$1" || { info "$1 is not running"; return 0; }
  local pid deadline
  pid=$(cat "$(_pidfile "$1")")
  pkill -TERM -P "$pid" 2>/dev/null || kill -TERM "$pid"
  deadline=$(( $(date +%s) + $2 ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      info "$1 still running after $2s: killing it"
      pkill -KILL -P "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$(_pidfile "$1")"
}

runner_exit_code() { cat "$REPLYX_DEPLOY_STATE/$1.exit" 2>/dev/null || echo ""; }
