"""The JSON the surge view polls, from a schedule and a status.json on disk."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from surge.locustfiles.histogram import bucket_counts
from surge.locustfiles.live_metrics import LiveMetrics
from surge.locustfiles.webui.live import SurgeView, timeline
from surge.locustfiles.webui.report import ReportBuilder, ReportState
from surge.results import write_status
from surge.schedule import parse_schedule

SCHEDULE = """
name: view
target: http://127.0.0.1:9
load:
  stages:
    - {rps: 10, duration: 10s}
    - {ramp_to: 30, duration: 20s}
thresholds:
  - p95 < 1s
  - {rule: error_rate < 5%, abort_on_fail: true, for: 10s}
"""


def view(run_dir: Path, runner_state: str = "ready", workers: int = 1, **kw) -> SurgeView:
    return SurgeView(
        schedule=parse_schedule(kw.pop("text", SCHEDULE)),
        run_dir=run_dir,
        report=ReportBuilder(run_dir),
        runner_state=lambda: runner_state,
        worker_count=lambda: workers,
        **kw,
    )


def test_timeline_has_the_stage_corners() -> None:
    schedule = parse_schedule(SCHEDULE)
    assert timeline(schedule, 3) == [(0, 10), (10, 10), (10, 10), (30, 30)]


def test_per_worker_rates_are_multiplied_by_the_workers() -> None:
    text = SCHEDULE.replace("load:\n", "load:\n  per_worker: true\n")
    schedule = parse_schedule(text)
    assert schedule.per_worker
    assert timeline(schedule, 4)[-1] == (30, 120)


def test_before_the_run_the_schedule_and_thresholds_are_there_and_start_waits_for_a_worker(
    tmp_path: Path,
) -> None:
    snap = view(tmp_path, needs_workers=True, workers=0).snapshot()
    assert snap["status"] is None and not snap["can_start"] and not snap["can_stop"]
    assert snap["schedule"]["duration_s"] == 30 and snap["schedule"]["peak_rps"] == 30
    assert [t["rule"] for t in snap["schedule"]["thresholds"]] == ["p95 < 1s", "error_rate < 5%"]
    assert snap["schedule"]["stages"][1]["label"] == "ramp 10/s \N{RIGHTWARDS ARROW} 30/s over 20s"
    assert view(tmp_path, needs_workers=True, workers=1).snapshot()["can_start"]
    json.dumps(snap)  # the route returns it as JSON


def test_live_status_comes_from_status_json_and_enables_stop(tmp_path: Path) -> None:
    write_status(tmp_path, {"state": "running", "elapsed_s": 12.0, "workers": [{"id": "w1"}]})
    snap = view(tmp_path, runner_state="running").snapshot()
    assert snap["status"]["elapsed_s"] == 12.0
    assert snap["can_stop"] and not snap["can_start"]
    write_status(tmp_path, {"state": "stopped", "workers": []})
    snap = view(tmp_path, runner_state="stopped").snapshot()
    assert not snap["can_stop"] and not snap["can_start"]
    assert snap["report"] == {
        "state": "not_started",
        "verdict": None,
        "error": None,
        "url": "report/",
    }


def test_an_in_process_status_source_wins_over_the_file(tmp_path: Path) -> None:
    write_status(tmp_path, {"state": "running"})
    snap = view(tmp_path, status_source=lambda: {"state": "draining"}).snapshot()
    assert snap["status"]["state"] == "draining"


def test_the_verdict_comes_from_the_built_report(tmp_path: Path) -> None:
    builder = ReportBuilder(tmp_path)
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "summary.json").write_text(
        json.dumps(
            {
                "summary_version": 1,  # a versioned document: readers check it
                "verdict": {"status": "failed", "headline": "FAILED: p95", "detail": "p95"},
            }
        )
    )
    assert builder.verdict() is None  # not built by this master yet
    builder.state = ReportState.READY
    assert builder.verdict()["status"] == "failed"


def _live_with_requests() -> LiveMetrics:
    live = LiveMetrics()
    hist = bucket_counts(np.asarray([2_000] * 96 + [400_000] * 4, dtype=np.float64))
    second = int(time.time()) - 1  # inside the live window
    live.observe({
        "worker": "w1", "host": "gen-1", "time_us": second * 1_000_000, "cpu_percent": 10.0,
        "endpoints": {"GET /x": {"outcomes": {"ok|": 95, "error|HTTP 503": 5},
                                 "hist_corrected": hist, "hist_uncorrected": hist}},
    })  # fmt: skip
    return live


def test_while_running_the_table_covers_the_last_seconds(tmp_path: Path) -> None:
    write_status(tmp_path, {"state": "running", "elapsed_s": 12.0, "workers": [{"id": "w1"}]})
    live = _live_with_requests()
    snap = view(tmp_path, runner_state="running", live=lambda: live).snapshot()
    assert not snap["final"] and snap["whole_run"] is None
    assert snap["windows"] == {"rate_s": 2, "latency_s": 5, "endpoints_s": 5}
    (row,) = snap["endpoints"]
    # one second of data so far: its rate, not that second spread over the 5 s window
    assert row["endpoint"] == "GET /x" and row["rate_rps"] == 100
    assert row["errors_by_type"] == {"HTTP 503": 5} and 380 < row["p99_ms"] < 410
    assert snap["worker_hosts"] == {"w1": "gen-1"} and snap["stop_via"] == "master"
    assert [s["number"] for s in snap["schedule"]["stages"]] == [1, 2]  # as the report numbers


def test_after_the_run_tiles_and_table_cover_the_whole_run(tmp_path: Path) -> None:
    write_status(tmp_path, {"state": "finished", "elapsed_s": 31.5, "achieved_rps": 0.0})
    live = _live_with_requests()
    ended = view(tmp_path, runner_state="stopped", live=lambda: live, stop_url="s3://b/runs/r")
    snap = ended.snapshot()
    assert snap["final"] and snap["stop_via"] == "fleet"
    whole = snap["whole_run"]
    assert whole["duration_s"] == 30  # the schedule's length, not the drain after it
    assert whole["sent_rps"] == round(100 / 30, 2)  # not the last window's 0
    assert whole["achieved_rps"] == round(95 / 30, 2)  # achieved: answered successfully
    assert 380 < whole["p99_ms"] < 410 and 1.9 < whole["p95_ms"] < 2.1
    assert snap["endpoints"][0]["rate_rps"] == round(100 / 30, 2)


def test_stage_names_come_with_their_numbers(tmp_path: Path) -> None:
    text = SCHEDULE.replace(
        "- {rps: 10, duration: 10s}", "- {rps: 10, duration: 10s, name: warm-up}"
    )
    stages = view(tmp_path, text=text).snapshot()["schedule"]["stages"]
    assert [(s["number"], s["name"]) for s in stages] == [(1, "warm-up"), (2, None)]
