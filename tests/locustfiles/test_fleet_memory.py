"""The master's per-second store stays bounded however long the run (issue 17: generators
last a day; the one-hour RSS soak is `python -m benchmarks --only soak`)."""

from __future__ import annotations

import time

from surge.locustfiles.fleet import FleetController
from surge.locustfiles.live_endpoints import KEEP_SECONDS
from surge.results import RunState
from surge.schedule import parse_schedule

SCHEDULE = "name: s\ntarget: http://127.0.0.1:9\nload: {stages: [{rps: 5, duration: 2h}]}\n"


def _health(second: int) -> dict:
    return {
        "worker": "w1", "host": "h", "pid": 1, "done": False, "late": 0, "sent": 3,
        "time_us": second * 1_000_000 + 500_000, "outcomes": {"ok": 3},
        "hist_corrected": {"600": 3}, "hist_uncorrected": {"590": 3}, "lag_hist": {"300": 3},
        "endpoints": {"/x": {"outcomes": {"ok|": 3}, "hist_corrected": {"600": 3}}},
    }  # fmt: skip


def test_ten_minutes_of_health_reports_keep_only_the_recent_seconds(tmp_path) -> None:
    controller = FleetController(environment=None, schedule=parse_schedule(SCHEDULE),
                                 run_dir=tmp_path, run_id="s-1")  # fmt: skip
    controller.state = RunState.RUNNING
    last = int(time.time()) - 1
    for second in range(last - 600, last + 1):  # one worker's reports, once a second
        controller.on_health("c1", _health(second))
    # before the fix every second of the run stayed: ~70 KB a second at 1,000 req/s
    assert sorted(controller._seconds) == list(range(last - KEEP_SECONDS, last + 1))
    window = controller._window(60)  # what the live windows read is still there
    assert sum(window.outcomes.values()) > 0
