"""The JSON the surge view polls, from a schedule and a status.json on disk."""

from __future__ import annotations

import json
from pathlib import Path

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
