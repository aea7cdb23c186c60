"""A target where nothing listens is exit 4 before any load, not a passing report."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from surge.cli.main import main
from surge.errors import ExitCode, InfrastructureError
from surge.schedule import parse_schedule
from surge.target_check import check_target


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _schedule_yaml(port: int) -> str:
    # a latency-only service level: refused connections answer fast and would pass it
    return (
        f"name: nothing-there\ntarget: http://127.0.0.1:{port}\n"
        "load: {stages: [{rps: 2, duration: 2s}]}\nthresholds: [p95 < 1s]\n"
    )


def test_surge_run_on_an_unreachable_target_is_exit_4_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port()
    schedule = tmp_path / "s.yaml"
    schedule.write_text(_schedule_yaml(port))
    out = tmp_path / "results"
    assert main(["run", str(schedule), "--out", str(out)]) == ExitCode.INFRASTRUCTURE
    err = capsys.readouterr().err
    assert f"error: target unreachable at start: 127.0.0.1:{port}" in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())  # no run directory, no report


def test_a_listening_target_passes_the_check() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        check_target(parse_schedule(_schedule_yaml(port)))  # no exception
    with pytest.raises(InfrastructureError) as refused:
        check_target(parse_schedule(_schedule_yaml(port)))
    assert refused.value.exit_code == ExitCode.INFRASTRUCTURE


def test_calibrate_against_an_unreachable_target_is_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # refused connections are "sent" at thousands per second: no rps_per_vcpu from them
    port = _closed_port()
    schedule = tmp_path / "s.yaml"
    schedule.write_text(_schedule_yaml(port))
    assert main(["calibrate", str(schedule), "--duration", "1"]) == ExitCode.INFRASTRUCTURE
    captured = capsys.readouterr()
    assert "target unreachable at start" in captured.err and "rps_per_vcpu" not in captured.out
