#!/usr/bin/env bash
# Builds the surge AMI in AWS: checks the dependency lock against the tested .venv,
# stages the wheel, then runs `packer build`. Needs AWS credentials in the environment.
# Extra arguments go to packer build, e.g.: packer/build.sh -var region=us-east-1
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
export CHECKPOINT_DISABLE=1

"$python" "$repo/packer/lock_requirements.py" --check || {
  echo "build.sh: the lock differs from the tested .venv; see packer/README.md" >&2
  exit 1
}
wheel="$("$repo/packer/stage.sh")"
version="${wheel#surge-}"
version="${version%%-*}"

packer_version="$(packer version | head -n 1 | sed -E 's/^Packer v([0-9.]+).*/\1/')"
if [ "${packer_version%%.*}" -eq 1 ] && [ "$(echo "$packer_version" | cut -d. -f2)" -lt 7 ]; then
  # Packer 1.6: amazon builder built in, no required_plugins block understood.
  template="$repo/packer/surge.pkr.hcl"
else
  packer init "$repo/packer"
  template="$repo/packer"
fi
packer build -var "surge_version=$version" "$@" "$template"
echo "AMI id recorded in $repo/packer/manifest.json" >&2
