#!/usr/bin/env bash
# Step 20: the unprivileged system user the agent runs as, and its directories.
# /etc/surge holds agent.env (written by user data, readable by the group only);
# /var/lib/surge is the agent's working directory (run data before upload).
set -euo pipefail
# shellcheck source=lib.sh
source "${SURGE_STAGE:-/tmp/surge-stage}/instance/lib.sh"

if ! getent group surge >/dev/null; then
  groupadd --system surge
fi
if ! getent passwd surge >/dev/null; then
  useradd --system --gid surge --home-dir /var/lib/surge --no-create-home \
    --shell /usr/sbin/nologin --comment "surge load generator" surge
  log "created system user surge (uid $(id -u surge))"
fi
install -d -o root -g surge -m 0750 /etc/surge
install -d -o surge -g surge -m 0750 /var/lib/surge
