#!/usr/bin/env bash
# Step 90: remove everything that must be unique per instance or that only the build
# needed: SSH host keys (cloud-init generates new ones at first boot), cloud-init's
# instance state (so user data runs again on every launched instance), the machine id,
# apt caches and the uploaded staging directory.
set -euo pipefail
# shellcheck source=lib.sh
source "${SURGE_STAGE:-/tmp/surge-stage}/instance/lib.sh"
stage="$(stage_dir)"

rm -f /etc/ssh/ssh_host_*
if command -v cloud-init >/dev/null 2>&1; then
  cloud-init clean --logs
fi
rm -rf /var/lib/cloud/instance /var/lib/cloud/instances /var/lib/cloud/sem /var/lib/cloud/data
if [ -f /etc/machine-id ]; then
  : >/etc/machine-id
fi
if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then
  rm -f /var/lib/dbus/machine-id
fi
apt-get clean
rm -rf /var/lib/apt/lists/*
rm -rf "$stage"
log "per-instance state and build files removed"
