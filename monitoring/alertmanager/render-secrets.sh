#!/usr/bin/env bash
# Writes Alertmanager's secret files from the environment, so nothing secret is
# committed: SLACK_WEBHOOK_URL and SMTP_PASSWORD must be set. Usage:
#   SLACK_WEBHOOK_URL=… SMTP_PASSWORD=… render-secrets.sh [/etc/alertmanager/secrets]
set -euo pipefail
dir=${1:-/etc/alertmanager/secrets}
: "${SLACK_WEBHOOK_URL:?SLACK_WEBHOOK_URL is not set}"
: "${SMTP_PASSWORD:?SMTP_PASSWORD is not set}"
umask 077
mkdir -p "$dir"
printf '%s' "$SLACK_WEBHOOK_URL" >"$dir/slack_webhook_url"
printf '%s' "$SMTP_PASSWORD" >"$dir/smtp_password"
echo "wrote $dir/slack_webhook_url and $dir/smtp_password"
