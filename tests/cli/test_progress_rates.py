"""Offered and achieved on the terminal line cover the same seconds: the master's rate
window during the run, the whole run after the end (`locustfiles.offered`, `cli.progress`)."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from surge.cli.progress import render
from surge.locustfiles.fleet import FleetController
from surge.locustfiles.offered import mean_offered_rps
from surge.results import RunState
from surge.schedule import parse_schedule

STEPS = parse_schedule(
    "name: s\ntarget: http://127.0.0.1:9\n"
    "load: {stages: [{rps: 3, duration: 10s}, {rps: 30, duration: 10s}, "
    "{ramp_to: 10, duration: 10s}]}\n"
)


def test_the_offered_mean_is_exact_across_a_stage_change_and_a_ramp() -> None:
    assert mean_offered_rps(STEPS, 9, 11) == pytest.approx(16.5)  # 1 s at 3, 1 s at 30
    assert mean_offered_rps(STEPS, 20, 30) == pytest.approx(20.0)  # ramp 30 -> 10
    assert mean_offered_rps(STEPS, 29, 31) == pytest.approx(5.5)  # 12 -> 10, then nothing
    assert mean_offered_rps(STEPS, 0, 30) == pytest.approx((30 + 300 + 200) / 30)


def test_during_the_run_offered_is_taken_over_the_achieved_window() -> None:
    status = {"offered_rps": 30.0, "offered_window_rps": 3.0, "achieved_rps": 3.0,
              "sent_rps": 3.0, "state": "running", "final": False}  # fmt: skip
    assert "3/3 req/s offered/achieved (answered; sent 3)" in render(status)
    old_master = {k: v for k, v in status.items() if k != "offered_window_rps"}
    assert "30/3 req/s offered/achieved" in render(old_master)


def test_after_the_end_the_line_shows_whole_run_figures() -> None:
    status = {"state": "finished", "final": True, "offered_rps": 0.0, "achieved_rps": 0.0,
              "sent_rps": 0.0, "offered_window_rps": 0.0,
              "whole_run": {"seconds": 30.0, "offered_rps": 12.67, "achieved_rps": 12.5,
                            "sent_rps": 12.6}}  # fmt: skip
    line = render(status)
    assert "whole run: 13/12 req/s offered/achieved (answered; sent 13)" in line
    assert "0/" not in line


def test_the_master_status_carries_both_figures(tmp_path: Path) -> None:
    controller = FleetController(environment=None, schedule=STEPS, run_dir=tmp_path,
                                 run_id="s-1")  # fmt: skip
    controller.state = RunState.RUNNING
    controller.start_epoch = time.time() - 5.5  # inside the first stage: 3 req/s
    controller._totals = collections.Counter({"ok": 14, "error": 1, "dropped": 1})
    status = controller.status()
    assert status["offered_window_rps"] == pytest.approx(3.0)
    whole = status["whole_run"]
    assert whole["offered_rps"] == pytest.approx(3.0)
    assert whole["achieved_rps"] == pytest.approx(14 / whole["seconds"], abs=0.01)
    assert whole["sent_rps"] == pytest.approx(15 / whole["seconds"], abs=0.01)
