#!/usr/bin/env bash
# Stages what the image installs from this repository: the surge wheel (built from the
# working tree) and requirements.lock, into one directory (default .cache/packer-stage).
# Used by build.sh before `packer build` and by the chroot test (tests/packer/).
# Usage: packer/stage.sh [DIR]   (PYTHON overrides the interpreter, default .venv/bin/python)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stage="${1:-$repo/.cache/packer-stage}"
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || {
  echo "stage.sh: $python not found; run 'make venv' first" >&2
  exit 1
}

rm -rf "$stage"
mkdir -p "$stage"
# Build from a clean copy of the tracked and new files (gitignored ones excluded):
# setuptools would otherwise write build/ and *.egg-info into the working tree and can
# ship stale modules from an old build/.
source_copy="$(mktemp -d)"
trap 'rm -rf "$source_copy"' EXIT
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$repo" ls-files -z --cached --others --exclude-standard |
    grep -zv '^tests/' |
    tar -C "$repo" --null --ignore-failed-read --files-from=- -cf - |
    tar -C "$source_copy" -xf -
else
  tar -C "$repo" --exclude=./.venv --exclude=./.cache --exclude=./tests --exclude=./build \
    --exclude=./dist --exclude='*.egg-info' --exclude=.terraform --exclude=node_modules \
    -cf - . | tar -C "$source_copy" -xf -
fi
# A wheel, not the source tree: the image gets exactly the files a release would ship.
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$stage" "$source_copy" >&2
cp "$repo/packer/requirements.lock" "$stage/requirements.lock"
find "$stage" -maxdepth 1 -name 'surge-*.whl' -printf '%f\n'
