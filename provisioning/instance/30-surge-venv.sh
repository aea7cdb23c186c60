#!/usr/bin/env bash
# Step 30: surge in /opt/surge/venv from the repository's wheel, with every dependency
# pinned by requirements.lock. --no-deps makes the lock the whole truth: a dependency the
# lock forgot is not silently resolved to some newer release, `pip check` fails instead;
# --require-hashes refuses any file whose SHA-256 the lock does not list (the same lock
# and flags `make venv` uses in CI). The wheel, built here, has no hash: a second call.
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
log "installing the pinned, hash-checked dependencies"
"$venv/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
  --only-binary=:all: --no-deps --require-hashes --requirement "$lock"
log "installing $(basename "${wheels[0]}")"
"$venv/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
  --no-deps "${wheels[0]}"
"$venv/bin/python" -m pip check
log "installed: $("$venv/bin/surge" --version)"
