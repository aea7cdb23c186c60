#!/usr/bin/env bash
# make lint: `packer fmt -check` and `packer validate` for packer/ (or the folder given),
# offline. Packer 1.6 (Debian's) has the amazon builder built in but rejects the
# required_plugins block, so it validates surge.pkr.hcl alone; Packer >= 1.7 validates
# the whole directory (after `packer init packer/` installed the amazon plugin).
# Arguments only the amazon plugin knows (marked `# plugin >= 1.2`, e.g. imds_support)
# are left out of what Packer 1.6 validates: its built-in builder predates them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CHECKPOINT_DISABLE=1 # no version check against checkpoint.hashicorp.com
dir="${1:-packer}"

command -v packer >/dev/null || {
  echo "lint-packer: packer not installed (scripts/system-deps.sh installs it)" >&2
  exit 1
}
packer fmt -check -diff "$dir/"

version="$(packer version | head -n 1 | sed -E 's/^Packer v([0-9]+)\.([0-9]+).*/\1 \2/')"
read -r major minor <<<"$version"
if [ "$major" -eq 1 ] && [ "$minor" -lt 7 ]; then
  # beside the original, so the template's path.root (its step scripts) is the same
  old="$dir/.packer-1.6-$$.pkr.hcl"
  trap 'rm -f "$old"' EXIT
  grep -v '# plugin >= 1.2' "$dir/surge.pkr.hcl" >"$old"
  packer validate "$old"
else
  packer validate "$dir/"
fi
echo "packer: fmt and validate ok"
