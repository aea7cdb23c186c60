#!/usr/bin/env bash
# surge-boot: run once per boot from user data after it wrote /etc/surge/agent.env.
# Checks the settings (so a typo fails here, loudly, in the cloud-init log, instead of
# in a restart loop), arranges the optional power-off, then starts the agent.
# Installed in the image as /usr/local/sbin/surge-boot; Terraform may also ship this
# very file in user data (include it with file(), not templatefile()).
#
# Settings (KEY=VALUE lines, the systemd EnvironmentFile format):
#   SURGE_ROLE              master | worker                          (required)
#   SURGE_BUCKET            S3 bucket for schedules and results      (required)
#   SURGE_SCHEDULE_KEY      object key of the schedule               (required)
#   SURGE_RUN_ID            run id, no '/' or spaces                 (required)
#   SURGE_MASTER_HOST       master's private address                 (required for workers)
#   SURGE_REGION            AWS region, e.g. eu-central-1            (optional)
#   SURGE_WORKER_PROCESSES  auto or 1-1024 Locust worker processes   (optional)
#   SURGE_POWEROFF          true | false: power off when the agent ends (optional)
# The rules match the agent's own (provisioning/agent_settings.py), which re-checks them.
set -euo pipefail

ENV_FILE="${SURGE_ENV_FILE:-/etc/surge/agent.env}"
UNIT=surge-agent.service
DROPIN_DIR="${SURGE_DROPIN_DIR:-/run/systemd/system/$UNIT.d}"
EXIT_CONFIG=2

declare -A settings=()
problems=()

fail() {
  printf 'surge-boot: error: %s (%s)\n' "$1" "$ENV_FILE" >&2
  exit "$EXIT_CONFIG"
}

# Reads KEY=VALUE lines without executing anything (never `source` user data).
read_env_file() {
  local line key value number=0
  [ -r "$ENV_FILE" ] || fail "settings file missing or unreadable"
  while IFS= read -r line || [ -n "$line" ]; do
    number=$((number + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] ||
      fail "line $number is not KEY=VALUE: $line"
    key="${BASH_REMATCH[2]}"
    value="${BASH_REMATCH[3]}"
    if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then
      value="${BASH_REMATCH[1]}"
    fi
    settings["$key"]="$value"
  done <"$ENV_FILE"
}

setting() {
  printf '%s' "${settings[$1]:-}"
}

# The agent reads these case-insensitively; so does this script.
normalize_settings() {
  local key
  for key in SURGE_ROLE SURGE_POWEROFF SURGE_WORKER_PROCESSES; do
    if [ -n "${settings[$key]:-}" ]; then
      settings["$key"]="${settings[$key],,}"
    fi
  done
}

# Records a problem when the setting is missing or does not match the pattern.
check() {
  local key="$1" pattern="$2" meaning="$3" value
  value="$(setting "$key")"
  if [ -z "$value" ]; then
    problems+=("$key is missing ($meaning)")
  elif ! [[ "$value" =~ $pattern ]]; then
    problems+=("$key=$value is not $meaning")
  fi
}

# Like check, for keys that may be left out.
optional() {
  [ -z "$(setting "$1")" ] || check "$@"
}

validate_settings() {
  check SURGE_ROLE '^(master|worker)$' "master or worker"
  check SURGE_BUCKET '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' "an S3 bucket name"
  check SURGE_SCHEDULE_KEY '^[^[:cntrl:]]+$' "an S3 object key"
  check SURGE_RUN_ID '^[^/[:space:]]+$' "a run id without '/' or spaces"
  if [ "$(setting SURGE_RUN_ID)" = "." ] || [ "$(setting SURGE_RUN_ID)" = ".." ]; then
    problems+=("SURGE_RUN_ID=$(setting SURGE_RUN_ID) is not a usable run id")
  fi
  if [ "$(setting SURGE_ROLE)" = "worker" ]; then
    check SURGE_MASTER_HOST '^[A-Za-z0-9.:-]+$' "the master's host name or IP address"
  fi
  optional SURGE_REGION '^[a-z]{2}(-[a-z]+)+-[0-9]+$' "an AWS region such as eu-central-1"
  optional SURGE_WORKER_PROCESSES '^(auto|[1-9][0-9]{0,2}|10[01][0-9]|102[0-4])$' \
    "auto or a number 1-1024"
  optional SURGE_POWEROFF '^(true|false|yes|no|1|0)$' "true or false"
  if [ ${#problems[@]} -gt 0 ]; then
    local problem
    for problem in "${problems[@]}"; do
      printf 'surge-boot: error: %s (%s)\n' "$problem" "$ENV_FILE" >&2
    done
    exit "$EXIT_CONFIG"
  fi
}

# The agent reads the file as user surge; nobody else needs to.
protect_env_file() {
  if [ "$(id -u)" -eq 0 ] && getent group surge >/dev/null; then
    chown root:surge "$ENV_FILE"
    chmod 0640 "$ENV_FILE"
  fi
}

# Power-off is systemd's job (SuccessAction/FailureAction), so the unprivileged agent
# needs no right to shut the machine down. The drop-in lives in /run: per boot only.
configure_poweroff() {
  local dropin="$DROPIN_DIR/50-poweroff.conf"
  if [[ "$(setting SURGE_POWEROFF)" =~ ^(true|yes|1)$ ]]; then
    mkdir -p "$DROPIN_DIR"
    printf '%s\n' "# Written by surge-boot because SURGE_POWEROFF=true." "[Unit]" \
      "SuccessAction=poweroff" "FailureAction=poweroff" >"$dropin"
  else
    rm -f "$dropin"
  fi
}

main() {
  read_env_file
  normalize_settings
  validate_settings
  protect_env_file
  configure_poweroff
  systemctl daemon-reload
  systemctl enable --now "$UNIT"
  printf 'surge-boot: started %s as %s for run %s\n' "$UNIT" \
    "$(setting SURGE_ROLE)" "$(setting SURGE_RUN_ID)" >&2
}

main "$@"
