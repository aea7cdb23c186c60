#!/usr/bin/env bash
# Step 30: surge in /opt/surge/venv from the repository's wheel, with every dependency
# pinned by requirements.lock. --no-deps makes the lock the whole truth: a dependency the
# lock forgot is not silently resolved to some newer release, `pip check` fails instead.
set -euo pipefail
# shellcheck source=lib.sh
source "${SURGE_STAGE:-/tmp/surge-stage}/instance/lib.sh"
stage="$(stage_dir)"
venv=/opt/surge/venv

shopt -s nullglob
wheels=("$stage"/dist/surge-*.whl)
[ ${#wheels[@]} -eq 1 ] || die "expected exactly one surge wheel in $stage/dist, found ${#wheels[@]}"
lock="$stage/dist/requirements.lock"
[ -f "$lock" ] || die "missing $lock (packer/build.sh stages it next to the wheel)"

log "creating $venv"
install -d -m 0755 /opt/surge
python3 -m venv "$venv"
log "installing $(basename "${wheels[0]}") with pinned dependencies"
"$venv/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
  --only-binary=:all: --no-deps --requirement "$lock" "${wheels[0]}"
"$venv/bin/python" -m pip check
log "installed: $("$venv/bin/surge" --version)"
