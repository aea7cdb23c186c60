#!/usr/bin/env bash
# make lint: terraform fmt, init (from the provider mirror, never the registry) and
# validate for the module and each example, then checkov with zero failed checks.
# Works in a temp copy of terraform/ so no .terraform dirs or lock files land in the tree.
# Without terraform or a provider mirror it says so LOUDLY and skips those steps.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

CHECKOV_VERSION="3.3.30"
CHECKOV_VENV=".cache/checkov-venv"

warn() { printf '\n!!! lint-terraform: %s !!!\n\n' "$*" >&2; }

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

terraform_checks() {
  # Our own CLI config (the inherited TF_CLI_CONFIG_FILE may point nowhere).
  export TF_CLI_CONFIG_FILE="$workdir/terraformrc"
  unset TF_PLUGIN_CACHE_DIR
  : >"$TF_CLI_CONFIG_FILE"
  terraform fmt -check -recursive -diff terraform/

  local status=0
  python -m tests.helpers.terraform cli-config "$TF_CLI_CONFIG_FILE" >/dev/null || status=$?
  if [ "$status" -eq 3 ]; then
    warn "no hashicorp/aws provider mirror (set SURGE_TF_PROVIDER_MIRROR): init/validate SKIPPED"
    return 0
  fi
  [ "$status" -eq 0 ] || return "$status"

  tar -C . --exclude=.terraform --exclude=.terraform.lock.hcl --exclude='terraform.tfstate*' \
    -cf - terraform | tar -C "$workdir" -xf -
  local dir name
  for dir in "$workdir/terraform" "$workdir"/terraform/examples/*/; do
    name="$(basename "$dir")"
    export TF_DATA_DIR="$workdir/data-$name"
    terraform -chdir="$dir" init -backend=false -input=false -no-color >/dev/null
    terraform -chdir="$dir" validate -no-color >/dev/null
    echo "terraform validate: ${dir#"$workdir"/} ok"
  done
  unset TF_DATA_DIR
}

checkov_venv() {
  if ! "$CHECKOV_VENV/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
    echo "installing checkov $CHECKOV_VERSION into $CHECKOV_VENV" >&2
    python3 -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      "checkov==$CHECKOV_VERSION" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  fi
  "$CHECKOV_VENV/bin/checkov" --version >/dev/null
}

if command -v terraform >/dev/null; then
  terraform_checks
else
  warn "terraform not on PATH: fmt/init/validate SKIPPED (install Terraform >= 1.11)"
fi

checkov_venv
# Skips live next to the resource they concern (# checkov:skip=ID:why).
"$CHECKOV_VENV/bin/checkov" --directory terraform --framework terraform --quiet --compact \
  --skip-download
echo "terraform: fmt, validate and checkov ok"
