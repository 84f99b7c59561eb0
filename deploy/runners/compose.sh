# Runner: Docker Compose, one project per colour (deploy/docker-compose.COLOUR.yml).
# shellcheck shell=bash

_compose() { docker compose -p "replyx-$1" -f "$DEPLOY_ROOT/docker-compose.$1.yml" "${@:2}"; }

runner_running() {
  [ -n "$(_compose "$1" ps --status running -q replyx 2>/dev/null)" ]
}

runner_start() { # COLOUR
  _compose "$1" up -d --wait replyx
  info "started $1 with docker compose"
}

runner_stop() { # COLOUR TIMEOUT: SIGTERM, then SIGKILL after TIMEOUT seconds
  runner_running "$1" || { info "$1 is not running"; return 0; }
  local id
  id=$(_compose "$1" ps -q replyx)
  _compose "$1" stop -t "$2" replyx
  docker inspect -f '{{.State.ExitCode}}' "$id" >"$REPLYX_DEPLOY_STATE/$1.exit"
}

runner_exit_code() { cat "$REPLYX_DEPLOY_STATE/$1.exit" 2>/dev/null || echo ""; }
