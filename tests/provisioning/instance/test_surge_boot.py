"""surge-boot: refuses bad agent settings before anything starts, then starts the agent.

systemd cannot run here (no PID 1), so ``systemctl`` is a recording stand-in on PATH;
the real ``systemctl enable`` of the unit is exercised in the chroot test
(tests/packer/test_chroot_provisioning.py).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
BOOT_SCRIPT = REPO_ROOT / "provisioning" / "instance" / "surge-boot.sh"
EXIT_CONFIG = 2
WORKER = """\
SURGE_ROLE=worker
SURGE_BUCKET=surge-runs-eu
SURGE_SCHEDULE_KEY=schedules/black-friday.yaml
SURGE_RUN_ID=black-friday-20261127T100000Z
SURGE_MASTER_HOST=10.0.1.23
SURGE_REGION=eu-central-1
SURGE_WORKER_PROCESSES=auto
SURGE_POWEROFF=false
"""
FAKE_SYSTEMCTL = """#!/bin/sh
echo "$*" >> "$SYSTEMCTL_LOG"
"""


@dataclass
class Boot:
    returncode: int
    stderr: str
    systemctl_calls: list[str]
    dropin: Path


def _boot(tmp_path: Path, settings: str) -> Boot:
    env_file = tmp_path / "agent.env"
    env_file.write_text(settings)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL)
    systemctl.chmod(0o755)
    log = tmp_path / "systemctl.log"
    log.unlink(missing_ok=True)
    dropin_dir = tmp_path / "dropin"
    result = subprocess.run(
        ["bash", str(BOOT_SCRIPT)],
        env={
            "PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
            "SURGE_ENV_FILE": str(env_file),
            "SURGE_DROPIN_DIR": str(dropin_dir),
            "SYSTEMCTL_LOG": str(log),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return Boot(result.returncode, result.stderr, calls, dropin_dir / "50-poweroff.conf")


def test_valid_worker_settings_start_the_agent(tmp_path: Path) -> None:
    boot = _boot(tmp_path, WORKER)
    assert boot.returncode == 0, boot.stderr
    assert boot.systemctl_calls == ["daemon-reload", "enable --now surge-agent.service"]
    assert not boot.dropin.exists()


def test_master_needs_no_master_host_and_accepts_export_and_quotes(tmp_path: Path) -> None:
    settings = (
        '# written by user data\nexport SURGE_ROLE="Master"\nSURGE_BUCKET=surge-runs-eu\n'
        "SURGE_SCHEDULE_KEY='schedules/a b.yaml'\nSURGE_RUN_ID=run-1\n"
    )
    boot = _boot(tmp_path, settings)
    assert boot.returncode == 0, boot.stderr
    assert "as master for run run-1" in boot.stderr


def test_missing_required_settings_are_all_named(tmp_path: Path) -> None:
    boot = _boot(tmp_path, "SURGE_ROLE=worker\n")
    assert boot.returncode == EXIT_CONFIG
    for key in ("SURGE_BUCKET", "SURGE_SCHEDULE_KEY", "SURGE_RUN_ID", "SURGE_MASTER_HOST"):
        assert f"{key} is missing" in boot.stderr
    assert str(tmp_path / "agent.env") in boot.stderr
    assert boot.systemctl_calls == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("SURGE_ROLE=leader", "SURGE_ROLE=leader is not master or worker"),
        ("SURGE_RUN_ID=a/b", "SURGE_RUN_ID=a/b is not a run id"),
        ("SURGE_REGION=Frankfurt", "SURGE_REGION=Frankfurt is not an AWS region"),
        ("SURGE_WORKER_PROCESSES=0", "SURGE_WORKER_PROCESSES=0 is not auto or a number"),
        ("SURGE_WORKER_PROCESSES=1025", "SURGE_WORKER_PROCESSES=1025 is not auto or a number"),
        ("SURGE_POWEROFF=maybe", "SURGE_POWEROFF=maybe is not true or false"),
        ("SURGE_BUCKET=Not_A_Bucket", "SURGE_BUCKET=Not_A_Bucket is not an S3 bucket name"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, line: str, message: str) -> None:
    key = line.split("=", 1)[0]
    settings = "".join(row for row in WORKER.splitlines(True) if not row.startswith(f"{key}="))
    boot = _boot(tmp_path, settings + line + "\n")
    assert boot.returncode == EXIT_CONFIG
    assert message in boot.stderr
    assert boot.systemctl_calls == []


def test_malformed_line_names_its_number(tmp_path: Path) -> None:
    boot = _boot(tmp_path, WORKER + "this is not a setting\n")
    assert boot.returncode == EXIT_CONFIG
    assert "line 9 is not KEY=VALUE" in boot.stderr


def test_settings_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    settings = WORKER.replace("SURGE_RUN_ID=black-friday-20261127T100000Z", "")
    boot = _boot(tmp_path, settings + f"SURGE_RUN_ID=$(touch {marker})\n")
    assert not marker.exists()
    assert boot.returncode == EXIT_CONFIG


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(BOOT_SCRIPT)],
        env={"PATH": os.environ["PATH"], "SURGE_ENV_FILE": str(tmp_path / "absent.env")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == EXIT_CONFIG
    assert "settings file missing or unreadable" in result.stderr


def test_poweroff_is_left_to_systemd(tmp_path: Path) -> None:
    boot = _boot(tmp_path, WORKER.replace("SURGE_POWEROFF=false", "SURGE_POWEROFF=TRUE"))
    assert boot.returncode == 0, boot.stderr
    dropin = boot.dropin.read_text()
    assert "SuccessAction=poweroff" in dropin and "FailureAction=poweroff" in dropin
    # A later boot with power-off switched off removes the drop-in again.
    boot = _boot(tmp_path, WORKER)
    assert boot.returncode == 0, boot.stderr
    assert not boot.dropin.exists()
