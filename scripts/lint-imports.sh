#!/usr/bin/env bash
# make lint: the layer contracts in .importlinter (import-linter's lint-imports): the CLI
# above the rooms it drives, the foundation (surge/*.py) importing none of them, no
# import circles between sibling modules.
#
# Installed, the rooms are subpackages of `surge` mapped from top-level folders
# (setup.cfg package_dir), which import-linter cannot see on disk; so this builds the
# installed layout from symlinks under .cache/import-view and checks that.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
view="$root/.cache/import-view"
python="${PYTHON:-python3}"
command -v lint-imports >/dev/null || {
  echo "lint-imports: import-linter not installed (pip install -e '.[dev]')" >&2
  exit 1
}

# every foundation module must be under the foundation contract: a new one is not
# exempt just because nobody listed it
for module in surge/*.py; do
  name="$(basename "$module" .py)"
  case "$name" in __init__ | __main__) continue ;; esac
  grep -qx "    surge.$name" .importlinter || {
    echo "lint-imports: surge/$name.py is not listed in .importlinter's foundation contract" >&2
    exit 1
  }
done

rm -rf "$view"
mkdir -p "$view/surge"
for entry in surge/*; do
  [ "$(basename "$entry")" = "__pycache__" ] || ln -s "$root/$entry" "$view/surge/"
done
# every mapped room, e.g. "surge.cli = cli" -> .cache/import-view/surge/cli -> cli/
"$python" - <<'PY' | while read -r name folder; do ln -s "$root/$folder" "$view/surge/$name"; done
import configparser

cfg = configparser.ConfigParser()
cfg.read("setup.cfg")
for line in cfg["options"]["package_dir"].strip().splitlines():
    package, _, folder = (part.strip() for part in line.partition("="))
    if package.count(".") == 1 and package.startswith("surge."):
        print(package.split(".")[1], folder)
PY

cd "$view"
PYTHONPATH="$view" lint-imports --no-cache "$root/.importlinter"
