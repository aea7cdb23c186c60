"""A latency-only service level does not hide requests that failed fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from surge.cli import main
from tests.helpers.runs import hold, make_run


def _run(tmp_path: Path, thresholds: list[str]) -> Path:
    requests = hold(rate=10, start_s=0, duration_s=10, latency_s=0.002) + hold(
        rate=10, start_s=0.05, duration_s=10, latency_s=0.001, outcome="error", status=0,
        error="ConnectionRefusedError: [Errno 111] Connection refused",
    )  # fmt: skip
    return make_run(tmp_path, stages=[{"rps": 20, "duration": "10s"}], requests=requests,
                    thresholds=thresholds)  # fmt: skip


def test_half_the_requests_failing_under_a_latency_only_rule_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(_run(tmp_path, ["p95 < 1s"]))]) == 0  # the rule still decides
    printed = capsys.readouterr().out
    assert "50.0% of requests failed or were dropped, and no threshold judges that" in printed


def test_no_note_when_a_rule_judges_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(_run(tmp_path, ["p95 < 1s", "error_rate < 60%"]))]) == 0
    assert "no threshold judges that" not in capsys.readouterr().out
