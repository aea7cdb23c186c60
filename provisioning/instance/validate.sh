#!/usr/bin/env bash
# Final step: asserts the image is what Terraform expects, and fails the build if not.
# Reports every problem, not just the first. Runs on the Packer build instance and in
# the offline chroot test (tests/packer/); checks of live kernel values run only on a
# booted host.
set -euo pipefail

VENV=/opt/surge/venv
UNIT=surge-agent.service
UNIT_FILE=/etc/systemd/system/$UNIT
SYSCTL_FILE=/etc/sysctl.d/60-surge-loadgen.conf
LIMITS_FILE=/etc/security/limits.d/60-surge-nofile.conf
CHRONY_FILE=/etc/chrony/conf.d/surge-time-sync.conf
TIME_SYNC_SERVER=169.254.169.123
STAGE="${SURGE_STAGE:-/tmp/surge-stage}"

failures=0
pass() { printf 'ok    %s\n' "$1"; }
fail() {
  printf 'FAIL  %s\n' "$1"
  failures=$((failures + 1))
}
# expect DESCRIPTION COMMAND...: passes when COMMAND succeeds; shows its output if not.
expect() {
  local description="$1" output
  shift
  if output="$("$@" 2>&1)"; then
    pass "$description"
  else
    fail "$description"
    printf '%s\n' "$output" | sed 's/^/      /'
  fi
}

in_chroot() {
  command -v systemd-detect-virt >/dev/null 2>&1 && systemd-detect-virt --quiet --chroot
}
is_booted_host() {
  [ -d /run/systemd/system ] && ! in_chroot
}

as_surge() {
  runuser -u surge -- "$@"
}

# Predicates: each returns non-zero (and may print why) when the image is wrong.
surge_is_system_user() {
  local uid
  uid="$(id -u surge)"
  [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] && [ "$(getent passwd surge | cut -d: -f7)" = /usr/sbin/nologin ]
}
venv_is_read_only_for_surge() {
  [ "$(stat -c %U "$VENV/bin/python")" = root ] && ! as_surge test -w "$VENV/bin"
}
# systemd-analyze verify exits 0 on unknown keys and bad values (it only warns), so any
# output counts as a failure: a misspelt hardening option must not pass silently.
unit_verifies() {
  local output
  output="$(systemd-analyze verify "$1" 2>&1)" || {
    echo "$output"
    return 1
  }
  [ -z "$output" ] || {
    echo "$output"
    return 1
  }
}
unit_is_enabled() {
  [ "$(systemctl is-enabled "$1")" = enabled ]
}
unit_runs_agent() {
  grep -qx 'User=surge' "$UNIT_FILE" &&
    grep -qx "ExecStart=$VENV/bin/surge agent --env-file /etc/surge/agent.env" "$UNIT_FILE"
}
boot_script_installed() {
  test -x /usr/local/sbin/surge-boot && bash -n /usr/local/sbin/surge-boot
}
settings_dir_private() {
  [ "$(stat -c %a:%U:%G /etc/surge)" = 750:root:surge ]
}
chrony_parses_config() {
  chronyd -p -f /etc/chrony/chrony.conf | grep -q "^server ${TIME_SYNC_SERVER} "
}
absent() {
  local found
  found="$(find "$@" 2>/dev/null || true)"
  [ -z "$found" ] || {
    echo "found: $found"
    return 1
  }
}
# Every key in the sysctl file must exist in this kernel; on a booted host, be in force.
sysctl_file_applies() {
  local key value live status=0
  while IFS='=' read -r key value; do
    key="$(echo "$key" | xargs)"
    [[ -z "$key" || "$key" == \#* ]] && continue
    if [ ! -e "/proc/sys/${key//.//}" ]; then
      echo "unknown to this kernel: $key"
      status=1
    elif is_booted_host; then
      value="$(echo "$value" | xargs)"
      live="$(xargs <"/proc/sys/${key//.//}")"
      if [ "$live" != "$value" ]; then
        echo "$key is $live, expected $value"
        status=1
      fi
    fi
  done <"$SYSCTL_FILE"
  return "$status"
}

check_surge() {
  expect "user surge is an unprivileged system user without a login shell" surge_is_system_user
  expect "surge --version runs as user surge" as_surge "$VENV/bin/surge" --version
  expect "surge agent --help runs as user surge" as_surge "$VENV/bin/surge" agent --help
  expect "the virtual environment's dependencies are consistent (pip check)" \
    "$VENV/bin/python" -m pip check
  expect "the virtual environment is owned by root, read-only for surge" venv_is_read_only_for_surge
}

check_unit() {
  expect "$UNIT passes systemd-analyze verify without warnings" unit_verifies "$UNIT_FILE"
  expect "$UNIT is enabled" unit_is_enabled "$UNIT"
  expect "$UNIT runs the agent as user surge with the env file" unit_runs_agent
  expect "/usr/local/sbin/surge-boot is installed and parses" boot_script_installed
  expect "/etc/surge is readable by group surge only" settings_dir_private
}

check_tuning() {
  local key
  expect "$SYSCTL_FILE is installed" test -f "$SYSCTL_FILE"
  for key in net.ipv4.ip_local_port_range net.ipv4.tcp_tw_reuse net.core.somaxconn \
    net.core.netdev_max_backlog net.ipv4.tcp_max_syn_backlog fs.file-max; do
    expect "$SYSCTL_FILE sets $key" grep -Eq "^${key//./\\.}[[:space:]]*=" "$SYSCTL_FILE"
  done
  if is_booted_host; then
    expect "every setting in $SYSCTL_FILE is in force" sysctl_file_applies
  else
    expect "this kernel knows every setting in $SYSCTL_FILE" sysctl_file_applies
  fi
  expect "$LIMITS_FILE raises nofile" grep -Eq '^\*[[:space:]]+hard[[:space:]]+nofile' "$LIMITS_FILE"
  expect "$UNIT raises LimitNOFILE" grep -Eq '^LimitNOFILE=[0-9]{6,}$' "$UNIT_FILE"
}

check_time_sync() {
  expect "chrony prefers the Amazon Time Sync Service" \
    grep -Eq "^server[[:space:]]+${TIME_SYNC_SERVER}[[:space:]].*prefer" "$CHRONY_FILE"
  expect "chronyd accepts its configuration" chrony_parses_config
  expect "chrony.service is enabled" unit_is_enabled chrony.service
  expect "chrony-wait.service is enabled (agent starts on a synchronised clock)" \
    unit_is_enabled chrony-wait.service
}

check_clean() {
  expect "no SSH host keys baked in" absent /etc/ssh -maxdepth 1 -name 'ssh_host_*'
  expect "no cloud-init instance state baked in" absent /var/lib/cloud -mindepth 1 -maxdepth 1 \
    \( -name instance -o -name instances -o -name sem -o -name data \)
  expect "machine id is empty (set at first boot)" test ! -s /etc/machine-id
  expect "build staging directory $STAGE removed" test ! -e "$STAGE"
  expect "no agent settings baked in" test ! -e /etc/surge/agent.env
}

check_surge
check_unit
check_tuning
check_time_sync
check_clean

if [ "$failures" -gt 0 ]; then
  printf 'image validation: %d check(s) failed\n' "$failures"
  exit 1
fi
printf 'image validation: all checks passed\n'
