"""A crash (a bug in surge) exits 5 with one line naming the traceback's file, never 0 or 1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from surge.cli import main
from surge.cli.crash import CRASH_DIR_ENV, CRASH_ENV
from surge.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]
CRASH_LINE = re.compile(r"^error: internal error: (?P<what>.+) \(traceback: (?P<path>\S+)\)$")


def test_a_crash_exits_5_with_one_line_and_a_traceback_file(tmp_path: Path) -> None:
    env = {**os.environ, CRASH_ENV: "schedule", CRASH_DIR_ENV: str(tmp_path)}
    example = str(ROOT / "schedules" / "example.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "surge", "schedule", "validate", example],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == ExitCode.INTERNAL_ERROR == 5
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr  # one line, no traceback on the terminal
    match = CRASH_LINE.match(lines[0])
    assert match, lines[0]
    assert "DeliberateCrash" in match["what"]
    saved = Path(match["path"])
    assert saved.parent == tmp_path
    text = saved.read_text()
    assert "Traceback (most recent call last)" in text and "crash_if_asked" in text
    assert "command: surge schedule validate" in text


def test_only_the_named_command_crashes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(CRASH_ENV, "report")
    monkeypatch.setenv(CRASH_DIR_ENV, str(tmp_path))
    assert main(["schedule", "validate", str(ROOT / "schedules" / "example.yaml")]) == 0
    assert main(["report", str(tmp_path / "nope")]) == ExitCode.INTERNAL_ERROR
    assert capsys.readouterr().err.startswith("error: internal error: DeliberateCrash")


def test_help_lists_exit_code_5(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "5 internal error" in " ".join(capsys.readouterr().out.split())
