#!/usr/bin/env bash
# Blue-green deploy of ReplyX Realtime with no dropped message:
#   1. pre-deploy health check (probe through nginx)
#   2. start the new colour            3. wait for its readiness
#   4. smoke checks against it directly (probe, plus $SMOKE_CMD)
#   5. switch nginx's upstream to it and reload; probe through nginx
#   6. drain the old colour (SIGTERM: readiness 503, sockets closed with 1012 in batches;
#      clients resume on the new colour with `since`)
#   7. watch: probe every WATCH_INTERVAL s, WATCH_COUNT times; on a failure roll back
#      by itself.
# Usage: safe-deploy.sh [blue|green]   (default: the colour that is not active)
# Idempotent: deploying to the colour that is already active and healthy does nothing.
# Settings: see deploy/lib.sh and docs/runbooks/deploy.md.
. "$(dirname "$0")/lib.sh"

current=$(active_colour)
target=${1:-$(if [ -n "$current" ]; then other "$current"; else echo blue; fi)}
[ "$target" = blue ] || [ "$target" = green ] || die "the colour must be blue or green, not '$target'"

if [ "$target" = "$current" ] && runner_running "$target"; then
  step "$target is already the active colour"
  probe "$PUBLIC_URL" >/dev/null && { info "and it passes the probe: nothing to do"; exit 0; }
  die "$target is active but fails the probe: use rollback.sh or fix it"
fi

step "1/7 pre-deploy health check through nginx"
if [ -n "$current" ]; then
  probe "$PUBLIC_URL" || die "production ($current) fails the probe before the deploy; not deploying"
else
  info "no active colour yet: first deploy"
fi

step "2/7 start $target"
runner_start "$target"

step "3/7 wait for $target to be ready"
if ! wait_ready "$target"; then
  runner_stop "$target" "$DRAIN_TIMEOUT"
  die "$target never became ready; it was stopped and ${current:-nothing} keeps serving"
fi

step "4/7 smoke checks against $target directly"
if ! probe "$(colour_url "$target")" || { [ -n "$SMOKE_CMD" ] && ! $SMOKE_CMD "$(colour_url "$target")"; }; then
  runner_stop "$target" "$DRAIN_TIMEOUT"
  die "$target failed its smoke checks; it was stopped and ${current:-nothing} keeps serving"
fi

step "5/7 switch nginx to $target"
switch_to "$target"
if ! probe "$PUBLIC_URL"; then
  if [ -n "$current" ]; then
    switch_to "$current"
    runner_stop "$target" "$DRAIN_TIMEOUT"
    die "the probe through nginx failed after the switch; switched back to $current"
  fi
  die "the probe through nginx failed after the first deploy"
fi

if [ -n "$current" ]; then
  step "6/7 drain $current"
  drain "$current"
else
  step "6/7 nothing to drain"
fi

step "7/7 watch $target: $WATCH_COUNT probes, every ${WATCH_INTERVAL}s"
for i in $(seq 1 "$WATCH_COUNT"); do
  sleep "$WATCH_INTERVAL"
  if ! probe "$PUBLIC_URL" "$WATCH_MAX_LATENCY" >/dev/null; then
    info "probe $i/$WATCH_COUNT failed"
    if [ -n "$current" ]; then
      step "rolling back to $current"
      runner_start "$current"
      wait_ready "$current" || die "rollback: $current did not become ready; $target stays active"
      switch_to "$current"
      drain "$target"
      probe "$PUBLIC_URL" >/dev/null || die "rolled back to $current, but it fails the probe too"
      die "$target failed the watch; rolled back to $current"
    fi
    die "$target failed the watch and there is nothing to roll back to"
  fi
  info "probe $i/$WATCH_COUNT ok"
done

step "deployed: $target is active"
