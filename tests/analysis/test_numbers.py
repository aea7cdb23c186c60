"""Synthetic runs with hand-computed answers: percentiles, windows, knee, thresholds, trust."""

from __future__ import annotations

from pathlib import Path

import pytest

from surge.analysis.knee import Cause
from surge.analysis.loading import load_run
from surge.analysis.report import Report, compute
from surge.analysis.verdict import VerdictStatus
from surge.errors import ExitCode
from surge.results import Abort, AbortedBy
from tests.helpers.runs import Req, health_rows, hold, make_run, with_fields

ONE_HOLD = [{"rps": 1, "duration": "20s"}]


def report_of(run_dir: Path, warmup_s: float = 0.0) -> Report:
    return compute(load_run(run_dir), warmup_s=warmup_s)


@pytest.fixture
def two_workers(tmp_path: Path) -> Path:
    """w1 answers in 10..100 ms, w2 in 1..10 s: 20 requests, one per second."""
    fast = [Req(offset_s=k - 1, latency_s=0.01 * k, worker="w1") for k in range(1, 11)]
    slow = [Req(offset_s=9 + k, latency_s=1.0 * k, worker="w2") for k in range(1, 11)]
    return make_run(
        tmp_path,
        stages=ONE_HOLD,
        requests=fast + slow,
        parts_per_worker=3,
        thresholds=[
            "p50 < 1s",
            "p90 <= 8s",
            "p95 < 9s",
            "p99 <= 10s",
            "max < 10s",
            "avg < 3s",
            "success_rate >= 100%",
            "error_rate < 1%",
            "dropped_rate <= 0%",
            "rps >= 1",
        ],
    )


def test_percentiles_are_exact_over_merged_workers_never_averaged(two_workers: Path) -> None:
    report = report_of(two_workers)
    whole = report.whole_run
    # merged sorted: 0.01 .. 0.10, 1 .. 10 (nearest rank over 20 values)
    assert whole["p50"] == pytest.approx(0.10)
    assert whole["p90"] == pytest.approx(8.0)
    assert whole["p95"] == pytest.approx(9.0)  # the mean of per-worker p95s would be 5.05
    assert whole["p99"] == pytest.approx(10.0)
    assert whole["max"] == pytest.approx(10.0)
    assert whole["avg"] == pytest.approx((0.55 + 55.0) / 20)
    stage = report.stages.iloc[0]
    assert stage["p95"] == pytest.approx(9.0)
    assert stage["offered_per_worker"] == pytest.approx(0.5)


def test_each_threshold_is_evaluated_on_the_whole_run(two_workers: Path) -> None:
    checks = {c.rule: (c.measured, c.passed) for c in report_of(two_workers).verdict.checks}
    assert checks["p50 < 1s"] == (pytest.approx(0.10), True)
    assert checks["p90 <= 8s"] == (pytest.approx(8.0), True)
    assert checks["p95 < 9s"] == (pytest.approx(9.0), False)
    assert checks["p99 <= 10s"] == (pytest.approx(10.0), True)
    assert checks["max < 10s"] == (pytest.approx(10.0), False)
    assert checks["avg < 3s"] == (pytest.approx(2.7775), True)
    assert checks["success_rate >= 100%"] == (1.0, True)
    assert checks["error_rate < 1%"] == (0.0, True)
    assert checks["dropped_rate <= 0%"] == (0.0, True)
    assert checks["rps >= 1/s"] == (1.0, True)  # 20 good answers / 20 s


def test_failed_threshold_gives_exit_1(two_workers: Path) -> None:
    verdict = report_of(two_workers).verdict
    assert verdict.status is VerdictStatus.FAILED
    assert verdict.exit_code == ExitCode.THRESHOLDS_FAILED
    assert "p95 < 9s (measured 9.00 s)" in verdict.headline()


def test_rejected_counts_as_success_and_dropped_against_it(tmp_path: Path) -> None:
    rows = hold(rate=10, start_s=0, duration_s=10, latency_s=0.05)  # 100 requests
    rows = (
        with_fields(rows[:80], outcome="ok")
        + with_fields(rows[80:90], outcome="rejected", status=409)
        + with_fields(rows[90:95], outcome="error", status=500)
        + with_fields(rows[95:96], outcome="timeout", status=0, latency_s=30)
        + with_fields(rows[96:], outcome="dropped", latency_s=1.5)
    )
    run_dir = make_run(
        tmp_path,
        stages=[{"rps": 10, "duration": "10s"}],
        requests=rows,
        thresholds=["success_rate >= 90%", "error_rate < 5%", "dropped_rate < 1%"],
    )
    report = report_of(run_dir)
    checks = {c.metric: c.measured for c in report.verdict.checks}
    assert checks == {
        "success_rate": pytest.approx(0.90),
        "error_rate": pytest.approx(0.06),
        "dropped_rate": pytest.approx(0.04),
    }
    # latency percentiles cover the 96 sent requests only; the timeout is the max
    assert report.whole_run["max"] == pytest.approx(30.0)
    # 4 % dropped also makes the run untrustworthy: exit 3 beats exit 1
    assert report.verdict.status is VerdictStatus.UNTRUSTWORTHY
    assert report.exit_code == ExitCode.UNTRUSTWORTHY
    assert any("dropped" in r for r in report.verdict.trust.reasons)


def test_steady_window_skips_warmup_and_ramps_are_not_judged(tmp_path: Path) -> None:
    stages = [{"rps": 10, "duration": "20s"}, {"ramp_to": 20, "duration": "10s"}]
    rows = hold(rate=10, start_s=0, duration_s=30, latency_s=lambda i: 5.0 if i < 50 else 0.02)
    report = report_of(make_run(tmp_path, stages=stages, requests=rows), warmup_s=5)
    hold_row, ramp_row = report.stages.iloc[0], report.stages.iloc[1]
    assert hold_row["window_start_s"] == 5 and hold_row["window_s"] == 15
    assert hold_row["requests"] == 150  # seconds 5..20 at 10/s
    assert hold_row["max"] == pytest.approx(0.02)  # the slow first 5 s are outside
    assert hold_row["achieved_rps"] == pytest.approx(10.0)
    assert not ramp_row["steady"] and ramp_row["offered_rps"] == pytest.approx(15.0)
    assert ramp_row["requests"] == 100
    assert report.knee.tested == 1


def staircase(tmp_path: Path, failing: dict[int, dict]) -> Path:
    """Holds at 10, 20, 30, 40 req/s, 10 s each; `failing[rate]` alters some requests."""
    stages = [{"steps": {"from": 10, "to": 40, "by": 10}, "duration": "10s"}]
    rows = []
    for k, rate in enumerate((10, 20, 30, 40)):
        part = hold(rate=rate, start_s=10 * k, duration_s=10, latency_s=0.05, workers=("w1", "w2"))
        change = failing.get(rate)
        if change:
            every = change.pop("every")
            part = [
                with_fields([r], **change)[0] if i % every == 0 else r for i, r in enumerate(part)
            ]
            change["every"] = every
        rows += part
    return make_run(
        tmp_path, stages=stages, requests=rows, thresholds=["p95 < 1s", "success_rate >= 99%"]
    )


def test_knee_and_throttling_broke_first(tmp_path: Path) -> None:
    run_dir = staircase(
        tmp_path,
        {
            30: {"every": 5, "outcome": "error", "status": 429},
            40: {"every": 2, "outcome": "error", "status": 429},
        },
    )
    knee = report_of(run_dir, warmup_s=2).knee
    assert knee.rate_rps == 20 and knee.rate_per_worker == 10 and knee.stage == 1
    assert knee.achieved_rps == pytest.approx(20.0)
    assert knee.broke is not None
    assert knee.broke.stage == 2 and knee.broke.offered_rps == 30
    assert knee.broke.cause is Cause.THROTTLING
    assert "20.0% of requests" in knee.broke.detail and "429" in knee.broke.detail


def test_throttling_by_error_text_and_timeouts_and_latency(tmp_path: Path) -> None:
    shop_throttle = {
        "every": 4,
        "outcome": "error",
        "status": 500,
        "error": "ProvisionedThroughputExceededException",
    }
    knee = report_of(staircase(tmp_path / "a", {20: shop_throttle}), warmup_s=0).knee
    assert knee.rate_rps == 10 and knee.broke.cause is Cause.THROTTLING

    timeouts = {"every": 3, "outcome": "timeout", "status": 0, "latency_s": 30.0}
    knee = report_of(staircase(tmp_path / "b", {40: timeouts}), warmup_s=0).knee
    assert knee.rate_rps == 30 and knee.broke.cause is Cause.TIMEOUTS

    slow = {"every": 1, "latency_s": 2.0}
    knee = report_of(staircase(tmp_path / "c", {30: slow}), warmup_s=0).knee
    assert knee.rate_rps == 20 and knee.broke.cause is Cause.LATENCY
    assert "p95 < 1s (measured 2.00 s)" in knee.broke.detail


def test_a_passing_stage_above_a_failing_one_does_not_raise_the_knee(tmp_path: Path) -> None:
    slow = {"every": 1, "latency_s": 2.0}
    knee = report_of(staircase(tmp_path, {20: slow}), warmup_s=0).knee
    assert knee.rate_rps == 10 and knee.broke.offered_rps == 20


def test_knee_above_the_test_and_not_reached(tmp_path: Path) -> None:
    knee = report_of(staircase(tmp_path / "a", {}), warmup_s=0).knee
    assert knee.rate_rps == 40 and knee.broke is None and knee.above_test
    knee = report_of(
        staircase(tmp_path / "b", {10: {"every": 1, "latency_s": 2.0}}), warmup_s=0
    ).knee
    assert knee.rate_rps is None and knee.broke.offered_rps == 10
    assert "not reached" in knee.headline()


def test_default_service_level_without_thresholds(tmp_path: Path) -> None:
    rows = hold(rate=10, start_s=0, duration_s=10, latency_s=lambda i: 4.0 if i % 10 == 0 else 0.1)
    run_dir = make_run(tmp_path, stages=[{"rps": 10, "duration": "10s"}], requests=rows)
    report = report_of(run_dir)
    assert report.knee.slo == ("p95 < 3s", "success_rate >= 99%")
    assert report.knee.rate_rps is None  # p95 = 4 s
    assert report.verdict.status is VerdictStatus.PASSED  # no thresholds: nothing to fail
    assert report.exit_code == ExitCode.PASSED


def test_per_second_timeline(tmp_path: Path) -> None:
    rows = hold(
        rate=10,
        start_s=0,
        duration_s=4,
        latency_s=lambda i: 0.01 * (i % 10 + 1),
        workers=("w1", "w2"),
    )
    rows = [r if r.offset_s < 3 else with_fields([r], latency_s=1.5, lag_s=0.5)[0] for r in rows]
    run_dir = make_run(
        tmp_path,
        stages=[{"rps": 10, "duration": "2s"}, {"ramp_to": 30, "duration": "2s"}],
        requests=rows,
    )
    timeline = report_of(run_dir).timeline.set_index("second")
    assert timeline.loc[0, "requests"] == 10
    assert timeline.loc[0, "p50"] == pytest.approx(0.05) and timeline.loc[
        0, "p90"
    ] == pytest.approx(0.09)
    assert timeline.loc[0, "max"] == pytest.approx(0.10)
    assert timeline.loc[2, "offered_rps"] == pytest.approx(15.0)  # ramp 10 -> 30 at t = 2.5 s
    assert timeline.loc[3, "p50"] == pytest.approx(1.5)
    assert timeline.loc[3, "p50_uncorrected"] == pytest.approx(1.0)  # from the actual send
    # second 3's answers arrive at 4.5 .. 5.4 s
    assert timeline.loc[4, "achieved"] == 5 and timeline.loc[5, "achieved"] == 5
    assert timeline["achieved"].sum() == 40 and timeline["sent"].sum() == 40


def test_cpu_saturation_for_five_seconds_is_untrustworthy(tmp_path: Path) -> None:
    rows = hold(rate=10, start_s=0, duration_s=10, latency_s=0.05, workers=("w1", "w2"))
    busy = health_rows(
        ["w1", "w2"], 10, cpu=lambda w, s: 97.0 if w == "w2" and 2 <= s < 7 else 50.0
    )
    report = report_of(
        make_run(
            tmp_path / "a", stages=[{"rps": 10, "duration": "10s"}], requests=rows, health=busy
        )
    )
    assert report.exit_code == ExitCode.UNTRUSTWORTHY
    assert report.verdict.trust.reasons == ("worker w2 above 90% CPU for 5 s",)
    brief = health_rows(["w1", "w2"], 10, cpu=lambda w, s: 97.0 if 2 <= s < 6 else 50.0)
    report = report_of(
        make_run(
            tmp_path / "b", stages=[{"rps": 10, "duration": "10s"}], requests=rows, health=brief
        )
    )
    assert report.exit_code == ExitCode.PASSED


def test_send_lag_and_manifest_flags_make_a_run_untrustworthy(tmp_path: Path) -> None:
    rows = hold(rate=10, start_s=0, duration_s=10, latency_s=0.2)
    lagging = [with_fields([r], lag_s=0.08)[0] if i % 20 == 0 else r for i, r in enumerate(rows)]
    report = report_of(
        make_run(tmp_path / "a", stages=[{"rps": 10, "duration": "10s"}], requests=lagging)
    )
    assert report.verdict.trust.send_lag_p99_s == pytest.approx(0.08)
    assert report.exit_code == ExitCode.UNTRUSTWORTHY
    flagged = make_run(
        tmp_path / "b",
        stages=[{"rps": 10, "duration": "10s"}],
        requests=rows,
        untrustworthy=["worker w3 lost its master"],
        abort=Abort("threshold p95 < 1s failed for 5s (live)", AbortedBy.THRESHOLD),
    )
    report = report_of(flagged)
    assert report.verdict.trust.reasons == ("worker w3 lost its master",)
    assert report.exit_code == ExitCode.UNTRUSTWORTHY
    assert any("aborted early by threshold: threshold p95" in n for n in report.verdict.notes)
