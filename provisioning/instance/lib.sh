# shellcheck shell=bash
# Shared helpers for the instance provisioning steps (sourced, never executed).
# Every step sources this file from the staged copy: "$SURGE_STAGE/instance/lib.sh".

# Print a step's progress line; Packer shows it in the build log.
log() {
  printf 'surge-provision: %s\n' "$*" >&2
}

# Stop the step with a message that names what is wrong.
die() {
  printf 'surge-provision: error: %s\n' "$*" >&2
  exit 1
}

# True on a machine booted with systemd (the Packer build instance); false inside a
# chroot (the offline test), where nothing may touch the host's kernel or services.
is_booted_host() {
  [ -d /run/systemd/system ] || return 1
  if command -v systemd-detect-virt >/dev/null 2>&1 && systemd-detect-virt --quiet --chroot; then
    return 1
  fi
  return 0
}

# The directory Packer (or the chroot test) uploaded: instance/ (these files) and
# dist/ (the wheel and the requirements lock).
stage_dir() {
  local stage="${SURGE_STAGE:-/tmp/surge-stage}"
  [ -d "$stage/instance" ] || die "staging directory $stage/instance is missing (set SURGE_STAGE)"
  printf '%s\n' "$stage"
}
