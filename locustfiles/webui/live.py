"""What the surge view shows: the schedule as a timeline plus the run's live status.

The live numbers come from the engine's ``status.json`` (rewritten each second by the
master, `surge.results.read_status`): the same document ``surge run`` prints its
progress from, so the UI and the terminal never disagree. The schedule is loaded from
``--surge-schedule`` so the timeline is there before the run starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surge.locustfiles.fleet import RATE_WINDOW_S, STATUS_WINDOW_S
from surge.locustfiles.live_metrics import WINDOW_S, LiveMetrics
from surge.locustfiles.webui.report import FINAL_RUN_STATES, ReportBuilder
from surge.results import RunState, read_status
from surge.schedule import Schedule, Stage, StageKind

#: states of status.json in which the run can still be stopped
ACTIVE_RUN_STATES = frozenset(
    s.value for s in RunState if not s.final and s is not RunState.WAITING
)
#: Locust runner states in which the schedule may be started
STARTABLE_RUNNER_STATES = frozenset({"ready"})

StatusSource = Callable[[], dict[str, Any] | None]
LiveSource = Callable[[], LiveMetrics | None]


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
            {
                **s.to_dict(),
                "number": s.index + 1,  # stages are numbered from 1, as in the report
                "label": s.describe().replace("->", "\N{RIGHTWARDS ARROW}"),
            }
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
        live: the master's per-endpoint totals (`live_metrics.CURRENT`), when in-process.
        stop_url: ``s3://bucket/runs/<run_id>`` on a fleet: Stop writes the kill switch
            there (what ``surge abort`` does) instead of stopping this master alone.
    """

    schedule: Schedule
    run_dir: Path
    report: ReportBuilder
    runner_state: Callable[[], str]
    worker_count: Callable[[], int]
    needs_workers: bool = False
    status_source: StatusSource | None = None
    live: LiveSource | None = None
    stop_url: str | None = None

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
        schedule = self.shown_schedule(status)
        return {
            "schedule": schedule_summary(schedule),
            "timeline": timeline(schedule, workers),
            "workers_connected": connected,
            "locust_state": runner_state,
            "status": status,
            "can_start": run_state == "waiting" and ready,
            "can_stop": run_state in ACTIVE_RUN_STATES,
            "report": {**self.report.to_dict(), "url": "report/"},
            "stop_via": "fleet" if self.stop_url else "master",
            **self.figures(status),
        }

    def shown_schedule(self, status: dict[str, Any] | None) -> Schedule:
        """The schedule as run: a knee search decides its steps live, and the schedule
        loaded before the run holds only the first, so status.json's ``stages`` (the
        steps so far, recoveries between them) replace its stages when present."""
        stages = (status or {}).get("stages")
        if not stages or status is None:
            return self.schedule
        shown = tuple(map(Stage.from_dict, stages))
        last, spec = shown[-1], self.schedule.search
        if last.kind is StageKind.RECOVERY and not (status.get("search") or {}).get("end"):
            # the pause after the latest step lasts until the search's deadline (20 min by
            # default) only on paper: draw it up to now, or the steps shrink to a sliver
            recovery = spec.recovery if spec is not None else 0.0
            until = max(float(status.get("elapsed_s") or 0.0), last.start_s + recovery)
            cut = min(last.duration_s, until - last.start_s)
            shown = (*shown[:-1], dataclasses.replace(last, duration_s=cut))
        return dataclasses.replace(self.schedule, stages=shown)

    def figures(self, status: dict[str, Any] | None) -> dict[str, Any]:
        """The per-endpoint table and, once the run is over, the whole-run tile figures.

        While the run lasts the tiles are status.json's windows (said so on the page);
        after it, figures over the run's whole length replace them.
        """
        final = bool(status) and status.get("state") in FINAL_RUN_STATES
        duration = 0.0
        if final:
            duration = min(float(status.get("elapsed_s") or 0.0), self.schedule.duration_s)
        live = self.live() if self.live is not None else None
        health = live.snapshot()[1] if live is not None else {}
        hosts = {w: h["host"] for w, h in health.items() if h.get("host")}
        return {
            "final": final,
            "windows": {
                "rate_s": RATE_WINDOW_S,
                "latency_s": STATUS_WINDOW_S,
                "endpoints_s": WINDOW_S,
            },
            "whole_run": live.whole_run(duration) if final and live is not None else None,
            "endpoints": []
            if live is None
            else live.endpoint_table(final=final, duration_s=duration),
            "worker_hosts": hosts,  # worker id -> host: a fleet's instances
        }
