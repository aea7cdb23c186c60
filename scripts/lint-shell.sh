#!/usr/bin/env bash
# make lint: shellcheck over every shell script in the repository (*.sh and .ci/run),
# skipping generated and third-party trees.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v shellcheck >/dev/null || {
  echo "lint-shell: shellcheck not installed (scripts/system-deps.sh installs it)" >&2
  exit 1
}

scripts=()
while IFS= read -r -d '' script; do
  scripts+=("$script")
done < <(find . \( -name .git -o -name .venv -o -name .cache -o -name node_modules \
  -o -name .terraform -o -name build -o -name dist \) -prune -o \
  -type f -name '*.sh' -print0 | sort -z)
scripts+=(.ci/run)

shellcheck --external-sources "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts ok"
