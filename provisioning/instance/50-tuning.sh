#!/usr/bin/env bash
# Step 50: kernel and limit settings for a load generator that opens many short-lived
# outgoing connections. systemd-sysctl applies the file at every boot; on the build
# instance it is applied now as well, so validate.sh can check the live values.
set -euo pipefail
# shellcheck source=lib.sh
source "${SURGE_STAGE:-/tmp/surge-stage}/instance/lib.sh"
stage="$(stage_dir)"

install -m 0644 "$stage/instance/files/60-surge-loadgen.conf" /etc/sysctl.d/60-surge-loadgen.conf
install -d -m 0755 /etc/security/limits.d
install -m 0644 "$stage/instance/files/60-surge-nofile.conf" /etc/security/limits.d/60-surge-nofile.conf
if is_booted_host; then
  sysctl --quiet --load=/etc/sysctl.d/60-surge-loadgen.conf
  log "applied /etc/sysctl.d/60-surge-loadgen.conf"
else
  log "not a booted host: sysctl settings installed, applied at boot"
fi
