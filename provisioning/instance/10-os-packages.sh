#!/usr/bin/env bash
# Step 10: the Debian packages the image needs (packages.txt). Installs only what is
# missing, so a base that already has them (the cached chroot) needs no network.
set -euo pipefail
# shellcheck source=lib.sh
source "${SURGE_STAGE:-/tmp/surge-stage}/instance/lib.sh"
stage="$(stage_dir)"

packages=()
while IFS= read -r line; do
  line="${line%%#*}"
  line="${line//[[:space:]]/}"
  [ -n "$line" ] && packages+=("$line")
done <"$stage/instance/packages.txt"

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

export DEBIAN_FRONTEND=noninteractive
if [ "${SURGE_APT_UPGRADE:-false}" = "true" ]; then
  log "upgrading the base image's packages (security fixes at bake time)"
  apt-get update -qq
  apt-get -y -qq -o Dpkg::Options::=--force-confold dist-upgrade
fi
if [ ${#missing[@]} -eq 0 ]; then
  log "all ${#packages[@]} packages already installed"
  exit 0
fi
log "installing: ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
