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
