#!/usr/bin/env bash
# Switches back to the other colour and verifies: start it (if stopped), wait for
# readiness, probe it directly, switch nginx, probe through nginx, drain the colour we
# left. Usage: rollback.sh [blue|green]  (default: the colour that is not active)
# Idempotent: rolling back to the active colour only verifies it.
. "$(dirname "$0")/lib.sh"

current=$(active_colour)
[ -n "$current" ] || die "no active colour recorded in $REPLYX_DEPLOY_STATE/active"
target=${1:-$(other "$current")}

if [ "$target" = "$current" ]; then
  step "$target is already active; verifying"
  probe "$PUBLIC_URL" || die "$target is active but fails the probe"
  exit 0
fi

step "1/4 start $target"
runner_start "$target"
wait_ready "$target" || die "$target did not become ready; $current keeps serving"
probe "$(colour_url "$target")" || { runner_stop "$target" "$DRAIN_TIMEOUT"; die "$target fails the probe; $current keeps serving"; }

step "2/4 switch nginx to $target"
switch_to "$target"

step "3/4 verify through nginx"
probe "$PUBLIC_URL" || { switch_to "$current"; die "the probe through nginx failed; switched back to $current"; }

step "4/4 drain $current"
drain "$current"

step "rolled back: $target is active"
