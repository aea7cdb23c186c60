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


def test_send_lag_is_listed_once_with_the_reports_exact_figure(tmp_path: Path) -> None:
    """The master's live send lag (a histogram figure) is dropped when the report states
    its own; other live reasons (a lost worker) stay."""
    live = ["send lag p99 52.1 ms over 50 ms", "worker w2 lost at 00:05"]
    run_dir = make_run(
        tmp_path,
        stages=[{"rps": 10, "duration": "10s"}],
        requests=hold(rate=10, start_s=0, duration_s=10, lag_s=0.0504),
        untrustworthy=live,
    )
    reasons = trust_of(load_run(run_dir)).reasons
    assert [r for r in reasons if "send lag" in r] == ["send lag p99 50.4 ms (limit 50 ms)"]
    assert "worker w2 lost at 00:05" in reasons


def test_the_live_send_lag_stays_when_the_report_has_none(tmp_path: Path) -> None:
    run_dir = make_run(
        tmp_path,
        stages=[{"rps": 10, "duration": "10s"}],
        requests=hold(rate=10, start_s=0, duration_s=10, lag_s=0.001),
        untrustworthy=["send lag p99 52.1 ms over 50 ms"],
    )
    assert trust_of(load_run(run_dir)).reasons == ("send lag p99 52.1 ms over 50 ms",)
