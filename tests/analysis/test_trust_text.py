"""The trust verdict's numbers never read as the limit they broke."""

from __future__ import annotations

from pathlib import Path

from surge.analysis.loading import load_run
from surge.analysis.verdict import trust_of
from tests.helpers.runs import hold, make_run


def test_a_send_lag_just_over_the_limit_is_shown_with_a_decimal(tmp_path: Path) -> None:
    run_dir = make_run(
        tmp_path,
        stages=[{"rps": 10, "duration": "10s"}],
        requests=hold(rate=10, start_s=0, duration_s=10, lag_s=0.0504),
    )
    trust = trust_of(load_run(run_dir))
    assert not trust.trustworthy
    assert "send lag p99 50.4 ms (limit 50 ms)" in trust.reasons
