"""The Packer template: formatted, valid offline, and running the steps the chroot test runs.

Packer 1.6 (Debian's) validates packer/surge.pkr.hcl on its own, because it rejects the
required_plugins block kept in packer/required_plugins.pkr.hcl; see packer/README.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKER_TIMEOUT_S = 120


def _packer(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    assert shutil.which("packer"), "packer missing: run scripts/system-deps.sh"
    return subprocess.run(
        ["packer", *args],
        cwd=cwd,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        capture_output=True,
        text=True,
        timeout=PACKER_TIMEOUT_S,
        check=False,
    )


def _lint(packer_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The lint script (fmt, then validate as this Packer version can) on a packer folder."""
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / "lint-packer.sh"), *([str(packer_dir)] if packer_dir else [])],
        capture_output=True,
        text=True,
        timeout=PACKER_TIMEOUT_S,
        check=False,
    )


def test_lint_script_passes() -> None:
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_ami_requires_imdsv2() -> None:
    # instances launched from the image answer metadata only to token (IMDSv2) requests
    template = (REPO_ROOT / "packer" / "surge.pkr.hcl").read_text()
    assert re.search(r'^\s*imds_support\s*=\s*"v2\.0"', template, re.MULTILINE)


def test_template_runs_every_numbered_step_in_order() -> None:
    # The chroot test runs the same glob in the same order; this ties the two together.
    result = subprocess.run(
        ["packer", "console", str(REPO_ROOT / "packer" / "surge.pkr.hcl")],
        input="local.steps\n",
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        capture_output=True,
        text=True,
        timeout=PACKER_TIMEOUT_S,
        check=True,
    )
    listed = [Path(step).name for step in re.findall(r'"([^"]+)"', result.stdout)]
    instance_dir = REPO_ROOT / "provisioning" / "instance"
    assert listed == sorted(p.name for p in instance_dir.glob("[0-9][0-9]-*.sh"))
    assert listed[-1] == "90-cleanup.sh"


def test_validate_fails_when_a_step_script_is_missing(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "packer", tmp_path / "packer")
    shutil.copytree(REPO_ROOT / "provisioning" / "instance", tmp_path / "provisioning" / "instance")
    first = _lint(tmp_path / "packer")
    assert first.returncode == 0, first.stdout + first.stderr
    (tmp_path / "provisioning" / "instance" / "validate.sh").unlink()
    result = _lint(tmp_path / "packer")
    assert result.returncode != 0
    assert "validate.sh" in result.stdout + result.stderr
