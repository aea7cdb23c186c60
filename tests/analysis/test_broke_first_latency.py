"""'What broke first' on latency: an endpoint over the missed limit is never called fine."""

from __future__ import annotations

from pathlib import Path

import pytest

from surge.cli import main
from tests.helpers.runs import hold, make_run


def _broke_line(tmp_path: Path, other_latency_s: float, capsys: pytest.CaptureFixture) -> str:
    requests = hold(rate=5, start_s=0, duration_s=10, latency_s=0.034, name="buy") + hold(
        rate=5, start_s=0.1, duration_s=10, latency_s=other_latency_s, name="browse"
    )
    run_dir = make_run(tmp_path, stages=[{"rps": 10, "duration": "10s"}], requests=requests,
                       thresholds=["p95 < 20ms"])  # fmt: skip
    assert main(["report", str(run_dir)]) == 1
    return next(line for line in capsys.readouterr().out.splitlines() if "broke first" in line)


def test_a_second_slow_endpoint_is_not_said_to_have_stayed_within(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    line = _broke_line(tmp_path, 0.033, capsys)  # 33 ms: over the 20 ms limit as well
    assert "POST buy slowed to p95 34 ms" in line
    assert "stayed within" not in line, line


def test_a_fast_endpoint_is_still_named_fine(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    line = _broke_line(tmp_path, 0.005, capsys)
    assert "GET browse stayed within 5 ms (p95)" in line, line
