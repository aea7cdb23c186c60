"""The CLI frame: help, version, the error handler and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from surge import __version__
from surge.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "schedule" in out and "Exit codes" in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2


def test_validate_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "validate", str(ROOT / "schedules" / "example.yaml")]) == 0
    out = capsys.readouterr().out
    assert "peak      500 req/s" in out and "168,000 expected" in out


def test_invalid_schedule_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: X\ntarget: 5\nload: {stages: [{rps: -1, duration: 1}]}\n")
    assert main(["schedule", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"  {bad}")]
    assert len(lines) == 4, err
    assert "Traceback" not in err


def test_user_mistake_never_prints_a_traceback(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(bytes(range(256)) * 10)
    proc = subprocess.run(
        [sys.executable, "-m", "surge", "schedule", "validate", str(garbage)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
