"""The AMI's provisioning, run for real in a Debian 12 chroot (no AWS needed).

The same step scripts Packer runs on the build instance run here, in name order, with
the repository's wheel and requirements.lock staged exactly as packer/stage.sh stages
them; then the image's own validate.sh and direct checks of what Terraform relies on.
The base chroot is cached (tests/helpers/chroot.py); a warm run takes about a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.helpers.chroot import REPO_ROOT, Chroot, base_tarball, debian_chroot, wheelhouse

# A cold cache (debootstrap, wheel downloads) runs the module fixture inside the first
# test: give it more than the suite's default 600 s.
COLD_RUN_TIMEOUT_S = 1800
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(COLD_RUN_TIMEOUT_S),
    pytest.mark.xdist_group("chroot"),  # one image for the module, also under xdist
]

INSTANCE_DIR = REPO_ROOT / "provisioning" / "instance"
STAGE = "/tmp/surge-stage"
WHEELHOUSE = "/tmp/surge-wheelhouse"
VALIDATE = "/root/surge-validate.sh"
SURGE = "/opt/surge/venv/bin/surge"
UNIT = "/etc/systemd/system/surge-agent.service"
REQUIRED_TOOLS = ("debootstrap", "chroot", "mount", "umount", "tar")


def _step_scripts() -> list[Path]:
    return sorted(INSTANCE_DIR.glob("[0-9][0-9]-*.sh"))


def _stage_wheel(stage_dist: Path) -> str:
    """packer/stage.sh into the chroot's staging directory; returns the wheel's name."""
    result = subprocess.run(
        [str(REPO_ROOT / "packer" / "stage.sh"), str(stage_dist)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return result.stdout.strip()


def _pins(lines: Iterable[str]) -> dict[str, str]:
    """``name==version`` lines keyed by canonical name (pip freeze says zope.event)."""
    pairs = (line.split("==", 1) for line in lines)
    return {canonicalize_name(name): version.strip() for name, version in pairs}


@pytest.fixture(scope="module")
def wheel_version(image: Chroot) -> str:
    """The version in the staged wheel's file name (surge-<version>-py3-none-any.whl)."""
    return image.wheel_name.split("-")[1]


@pytest.fixture(scope="module")
def image() -> Iterator[Chroot]:
    """A chroot provisioned by every step script, torn down after this module."""
    if os.geteuid() != 0:
        pytest.skip("needs root for debootstrap, chroot and mount")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    assert not missing, f"missing tools {missing}: run scripts/system-deps.sh"
    tarball = base_tarball()
    wheels = wheelhouse(REPO_ROOT / "packer" / "requirements.lock", sys.executable)
    with debian_chroot(tarball) as chroot:
        shutil.copytree(INSTANCE_DIR, chroot.path(f"{STAGE}/instance"))
        chroot.wheel_name = _stage_wheel(chroot.path(f"{STAGE}/dist"))
        shutil.copytree(wheels, chroot.path(WHEELHOUSE))
        shutil.copy2(INSTANCE_DIR / "validate.sh", chroot.path(VALIDATE))
        env = {"SURGE_STAGE": STAGE, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": WHEELHOUSE}
        for script in _step_scripts():
            chroot.run(["bash", f"{STAGE}/instance/{script.name}"], env=env)
        yield chroot


def test_steps_are_the_ones_packer_runs() -> None:
    names = [script.name for script in _step_scripts()]
    assert names[0].startswith("10-") and names[-1] == "90-cleanup.sh"
    assert "validate.sh" not in names


def test_surge_version_runs_from_the_venv(image: Chroot, wheel_version: str) -> None:
    result = image.run(["runuser", "-u", "surge", "--", SURGE, "--version"])
    assert wheel_version in result.stdout + result.stderr


def test_surge_agent_help_runs(image: Chroot) -> None:
    result = image.run([SURGE, "agent", "--help"], check=False)
    assert result.returncode == 0, result.stderr
    assert "--env-file" in result.stdout


def test_venv_holds_exactly_the_locked_versions(image: Chroot) -> None:
    lock = (REPO_ROOT / "packer" / "requirements.lock").read_text().splitlines()
    pins = _pins(  # pin lines only: not comments, not their --hash continuation lines
        line.removesuffix(" \\") for line in lock if line and not line.startswith(("#", " "))
    )
    frozen = image.run(["/opt/surge/venv/bin/python", "-m", "pip", "freeze", "--all"])
    installed = _pins(line for line in frozen.stdout.splitlines() if "==" in line)
    assert pins.items() <= installed.items(), set(pins.items()) - set(installed.items())


def test_systemd_analyze_verify_accepts_the_unit(image: Chroot) -> None:
    result = image.run(["systemd-analyze", "verify", UNIT], check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_agent_unit_enabled_and_boot_script_installed(image: Chroot) -> None:
    enabled = image.run(["systemctl", "is-enabled", "surge-agent.service"], check=False)
    assert enabled.stdout.strip() == "enabled"
    installed = image.path("/usr/local/sbin/surge-boot")
    assert os.access(installed, os.X_OK)
    assert installed.read_bytes() == (INSTANCE_DIR / "surge-boot.sh").read_bytes()


def test_tuning_files_in_place(image: Chroot) -> None:
    files = INSTANCE_DIR / "files"
    sysctl = image.path("/etc/sysctl.d/60-surge-loadgen.conf").read_text()
    assert sysctl == (files / "60-surge-loadgen.conf").read_text()
    assert "net.ipv4.tcp_tw_reuse = 1" in sysctl
    limits = image.path("/etc/security/limits.d/60-surge-nofile.conf").read_text()
    assert limits == (files / "60-surge-nofile.conf").read_text()


def test_time_sync_uses_amazon_time_sync(image: Chroot) -> None:
    config = image.run(["chronyd", "-p", "-f", "/etc/chrony/chrony.conf"]).stdout
    assert "server 169.254.169.123 prefer iburst" in config
    enabled = image.run(["systemctl", "is-enabled", "chrony.service"], check=False)
    assert enabled.stdout.strip() == "enabled"


def test_validate_script_passes(image: Chroot) -> None:
    result = image.run(["bash", VALIDATE], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert "all checks passed" in result.stdout


def test_validate_script_rejects_a_baked_ssh_host_key(image: Chroot) -> None:
    key = image.path("/etc/ssh/ssh_host_ed25519_key")
    key.parent.mkdir(exist_ok=True)
    key.write_text("not a real key\n")
    try:
        result = image.run(["bash", VALIDATE], check=False)
    finally:
        key.unlink()
    assert result.returncode == 1
    assert "FAIL  no SSH host keys baked in" in result.stdout


def test_validate_script_rejects_a_misspelt_unit_option(image: Chroot) -> None:
    unit = image.path(UNIT)
    original = unit.read_text()
    unit.write_text(original.replace("ProtectHome=yes", "ProtectHomme=yes"))
    try:
        result = image.run(["bash", VALIDATE], check=False)
    finally:
        unit.write_text(original)
    assert result.returncode == 1
    assert "ProtectHomme" in result.stdout
