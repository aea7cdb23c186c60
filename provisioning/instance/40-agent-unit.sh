#!/usr/bin/env bash
# Step 40: the agent's systemd unit and the boot script. The unit is enabled in the image
# but guarded by ConditionPathExists on agent.env, so an instance launched without user
# data stays idle; surge-boot (run from user data) validates the settings and starts it.
set -euo pipefail
# shellcheck source=lib.sh
source "${SURGE_STAGE:-/tmp/surge-stage}/instance/lib.sh"
stage="$(stage_dir)"

install -m 0644 "$stage/instance/files/surge-agent.service" /etc/systemd/system/surge-agent.service
install -m 0755 "$stage/instance/surge-boot.sh" /usr/local/sbin/surge-boot
if is_booted_host; then
  systemctl daemon-reload
fi
systemctl enable surge-agent.service
log "surge-agent.service installed and enabled; boot script at /usr/local/sbin/surge-boot"
