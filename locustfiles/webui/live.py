"""What the surge view shows: the schedule as a timeline plus the run's live status.

The live numbers come from the engine's ``status.json`` (rewritten each second by the
master, `surge.results.read_status`): the same document ``surge run`` prints its
progress from, so the UI and the terminal never disagree. The schedule is loaded from
``--surge-schedule`` so the timeline is there before the run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surge.locustfiles.webui.report import ReportBuilder

from surge.results import read_status
from surge.schedule import Schedule

#: states of status.json in which the run can still be stopped
ACTIVE_RUN_STATES = frozenset({"starting", "running", "draining", "aborting"})
#: Locust runner states in which the schedule may be started
STARTABLE_RUNNER_STATES = frozenset({"ready"})

StatusSource = Callable[[], dict[str, Any] | None]


def schedule_summary(schedule: Schedule) -> dict[str, Any]:
    """The schedule's stages for the timeline; rates are per worker when `per_worker`."""
    return {
        "name": schedule.name,
        "target": schedule.target,
        "duration_s": schedule.duration_s,
        "per_worker": schedule.per_worker,
        "peak_rps": schedule.peak_rate,
        "thresholds": [
            {"rule": t.rule, "abort_on_fail": t.abort_on_fail} for t in schedule.thresholds
        ],
        "stages": [
            {**s.to_dict(), "label": s.describe().replace("->", "\N{RIGHTWARDS ARROW}")}
            for s in schedule.stages
        ],
    }


def timeline(schedule: Schedule, workers: int) -> list[tuple[float, float]]:
    """Offered fleet rate as (offset s, req/s) corner points: stages are linear pieces."""
    points: list[tuple[float, float]] = []
    mult = max(workers, 1) if schedule.per_worker else 1
    for s in schedule.stages:
        points.append((s.start_s, s.rate_from * mult))
        points.append((s.end_s, s.rate_to * mult))
    return points


@dataclass
class SurgeView:
    """The master's surge view of one run.

    Attributes:
        schedule: the run's schedule (target override applied).
        run_dir: the run directory the engine writes ``status.json`` into.
        report: builds and describes ``RUN/report/`` after the run.
        runner_state: Locust's runner state ("ready", "running", "stopped", ...).
        worker_count: workers connected to Locust (for per-worker schedules).
        needs_workers: a master: Locust cannot start before a worker has connected.
        status_source: returns the live status; defaults to reading ``status.json``.
    """

    schedule: Schedule
    run_dir: Path
    report: ReportBuilder
    runner_state: Callable[[], str]
    worker_count: Callable[[], int]
    needs_workers: bool = False
    status_source: StatusSource | None = None

    def status(self) -> dict[str, Any] | None:
        if self.status_source is not None:
            return self.status_source()
        return read_status(self.run_dir)

    def snapshot(self) -> dict[str, Any]:
        """The JSON the page polls: schedule, timeline, status, what the buttons may do."""
        status = self.status()
        run_state = (status or {}).get("state", "waiting")
        runner_state = self.runner_state()
        connected = self.worker_count()
        workers = len(status["workers"]) if status and status.get("workers") else connected
        ready = runner_state in STARTABLE_RUNNER_STATES and (
            connected > 0 or not self.needs_workers
        )
        return {
            "schedule": schedule_summary(self.schedule),
            "timeline": timeline(self.schedule, workers),
            "workers_connected": connected,
            "locust_state": runner_state,
            "status": status,
            "can_start": run_state == "waiting" and ready,
            "can_stop": run_state in ACTIVE_RUN_STATES,
            "report": {**self.report.to_dict(), "url": "report/"},
        }
