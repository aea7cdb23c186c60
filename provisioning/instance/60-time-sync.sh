#!/usr/bin/env bash
# Step 60: chrony against the Amazon Time Sync Service (169.254.169.123, link-local in
# every VPC), so that start times and latencies measured on different instances agree.
# Debian's chrony.conf reads /etc/chrony/conf.d; its pool stays as a fallback.
set -euo pipefail
# shellcheck source=lib.sh
source "${SURGE_STAGE:-/tmp/surge-stage}/instance/lib.sh"
stage="$(stage_dir)"

grep -Eq '^[[:space:]]*confdir[[:space:]]+/etc/chrony/conf.d' /etc/chrony/chrony.conf ||
  die "/etc/chrony/chrony.conf does not read /etc/chrony/conf.d"
install -m 0644 "$stage/instance/files/surge-time-sync.conf" /etc/chrony/conf.d/surge-time-sync.conf
systemctl enable chrony.service
# chrony-wait holds time-sync.target (which surge-agent.service is ordered after) until
# the clock is within 0.1 s, at most 3 minutes: the agent never plans start_at on an
# unsynchronised clock.
systemctl enable chrony-wait.service
if is_booted_host; then
  systemctl restart chrony.service
  log "chrony restarted with the Amazon Time Sync source"
fi
