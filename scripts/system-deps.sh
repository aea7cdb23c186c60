#!/usr/bin/env bash
# Installs the Debian tools that surge's lint, tests and benchmarks drive for real
# (packer, chromium, shellcheck, debootstrap, wrk, nginx, prometheus: the metrics test
# scrapes a run's master with the real server). Idempotent: it only calls
# apt-get when something is missing. Needs root (or passwordless sudo).
set -euo pipefail

wanted=(packer chromium shellcheck debootstrap wrk nginx systemd prometheus)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
