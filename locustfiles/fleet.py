"""The master side of a run: who generates, their shares, live status, thresholds, manifest.

The master never sends load. It keeps the fleet's membership from the workers' beats
and Locust's own connection bookkeeping (a worker that said goodbye or that Locust's
heartbeats declared missing is out at once; one silent for `WORKER_SILENCE_S` is out
unless it is a live process on this host, which gets `ALIVE_SILENCE_S`; a worker that
beats again is put back in), and sends every worker its `Plan` whenever membership
changes, effective `RESPLIT_DELAY_S` later so
all workers switch at the same arrival. Once a second it merges the workers' health
samples (counts and histograms are added, never percentiles averaged), rewrites
``status.json``, evaluates thresholds and, on a sustained ``abort_on_fail`` breach,
ends the run. It writes ``health/part-*.parquet`` every minute, ``manifest.json`` at the end.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent

from surge import trust
from surge.errors import ExitCode
from surge.locustfiles import endings, histogram, offered
from surge.locustfiles.arrivals import CumulativeRate
from surge.locustfiles.client_switch import SwitchTotals
from surge.locustfiles.fleet_endings import EndingBook, outside_stop
from surge.locustfiles.health_parts import HealthParts
from surge.locustfiles.live_endpoints import KEEP_SECONDS, Window
from surge.locustfiles.live_metrics import LiveMetrics
from surge.locustfiles.scenario_errors import ScenarioErrorTotals
from surge.locustfiles.search import SearchDriver
from surge.locustfiles.user_class import describe_for_manifest
from surge.locustfiles.worker import MSG_PLAN, Plan
from surge.results import (
    Abort,
    AbortedBy,
    Manifest,
    MasterEntry,
    RunState,
    Totals,
    WorkerEntry,
    own_instance_type,
    write_status,
)
from surge.schedule import Schedule
from surge.thresholds import MetricKind, Threshold
from surge.trust import (  # one owner: the report and the web UI judge by the same limits
    MAX_DROPPED_FRACTION,
    MAX_SEND_LAG_P99_US,
    OVERLOADED_CPU_WAIT_PERCENT,
    SATURATED_CPU_PERCENT,
    SATURATED_CPU_SECONDS,
)

logger = logging.getLogger(__name__)
_HOSTNAME = socket.gethostname()

CONTROL_INTERVAL_S = 0.1
STATUS_INTERVAL_S = 1.0
WORKER_SILENCE_S = 1.0  # 4 missed beats: out of the split (re-split done within 2 s of a loss)
#: a silent worker whose process still lives on this host is busy, not dead: give it longer
ALIVE_SILENCE_S = 10.0
RESPLIT_DELAY_S = 0.3  # time for a new plan to reach every worker before it applies
START_DELAY_S = 1.5  # from "start" to the first arrival: workers need the plan first
STATUS_WINDOW_S = 5  # seconds of merged samples behind status.json's latency figures
RATE_WINDOW_S = 2  # seconds behind status.json's achieved_rps
LIVE_WINDOW_S = 10  # seconds of merged samples live thresholds are evaluated on
END_WAIT_MAX_S = 35.0  # after the schedule's end, how long to wait for workers' last reports


ThresholdState = trust.ThresholdState  # one owner (status.json, /metrics, the web UI)


@dataclass
class WorkerInfo:
    client_id: str
    worker: str
    last_seen: float
    host: str = ""
    pid: int = 0
    instance_type: str | None = None  # EC2 type, when the agent knows it (for the cost)
    done: bool = False
    cpu_hot_seconds: int = 0
    last: dict[str, Any] = field(default_factory=dict)
    clock_offset_ms: float = 0.0


#: the fleet's merged sample for one second (or window): the fields of one endpoint's
_Second = Window


class FleetController:
    """The master's (or standalone process's) view of one run.

    Attributes:
        schedule: the validated schedule (target already overridden if asked).
        run_dir, run_id: where and under which name results go.
        state: a `RunState`.
        abort_reason: why the run was ended early, if it was.
    """

    def __init__(self, *, environment: Any, schedule: Schedule, run_dir: Path, run_id: str) -> None:
        self.environment = environment
        self.schedule = schedule
        self.run_dir = Path(run_dir)
        self.run_id = run_id
        self.state = RunState.WAITING
        self.abort_reason: str | None = None
        self.abort_by: AbortedBy | None = None
        self.abort_at: dt.datetime | None = None
        self.workers: dict[str, WorkerInfo] = {}
        self.lost_workers: list[dict[str, Any]] = []
        self.stalled_workers: list[dict[str, Any]] = []  # silent for a while, then back
        self.members: tuple[str, ...] = ()
        self.start_epoch = 0.0
        self.hard_end_epoch = 0.0
        self.started_at: dt.datetime | None = None
        self.ended_at: dt.datetime | None = None
        self._seconds: dict[int, _Second] = collections.defaultdict(_Second)
        #: per-endpoint totals and seconds: scoped thresholds, the web UI table, /metrics
        self.live = LiveMetrics()
        self._lag = collections.Counter()
        self._totals: collections.Counter = collections.Counter()
        self._late = 0
        self.health = HealthParts(self.run_dir)  # written every minute, not kept (issue 17)
        self._breach_since: dict[int, float] = {}
        self._threshold_states: dict[int, ThresholdState] = {}
        self._greenlet: gevent.Greenlet | None = None
        self._end_seen: float | None = None
        self._saturated: set[str] = set()
        self._stop_requested = False
        self._overloaded_seconds: collections.Counter[str] = collections.Counter()
        #: #20 `load.search`: steers the stages (and the workers' plans) step by step
        self.search = (
            SearchDriver(controller=self, spec=schedule.search) if schedule.search else None
        )
        self.endings = EndingBook()  # parts, failures, departures (locustfiles.fleet_endings)
        self.scenario_errors = ScenarioErrorTotals()  # the scenario's own exceptions, summed
        self.client_switches = SwitchTotals()  # users moved to Locust's client at call time

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Called on Locust's test_start: fix the start instant and send plans."""
        if self.state not in (RunState.WAITING,):
            logger.warning("surge runs one schedule per master; restart it for another run")
            return
        now = time.time()
        at = self.schedule.start_at.timestamp() if self.schedule.start_at else 0.0
        self.start_epoch = at if at > now + START_DELAY_S else now + START_DELAY_S
        self.started_at = dt.datetime.fromtimestamp(self.start_epoch, dt.UTC)
        self.hard_end_epoch = self.schedule.hard_end(self.started_at).timestamp()
        self.state = RunState.STARTING
        self._write_manifest()
        self._greenlet = gevent.spawn(self._control_loop)

    def finish(self) -> None:
        """Called on Locust's test_stop: final status, health and manifest."""
        if self.state in (RunState.WAITING, RunState.FINISHED, RunState.ABORTED, RunState.STOPPED):
            return
        if self.state is RunState.ABORTING:
            self.state = RunState.ABORTED
        elif self.state is RunState.DRAINING and self._stop_requested:
            self.state = RunState.FINISHED
        else:  # stopped from outside: the agent's note (kill switch, hard end) or a person
            stop = outside_stop(self.run_dir, self.hard_end_epoch)
            self.abort_reason, self.abort_by, self.abort_at = stop.reason, stop.by, stop.at
            self.state = RunState.STOPPED if stop.by is AbortedBy.PERSON else RunState.ABORTED
        self.ended_at = dt.datetime.now(dt.UTC)
        scoped = {t.name for t in self.schedule.thresholds if t.name is not None}
        for name in self.live.unknown_endpoints(scoped):  # a typo never fails silently
            logger.warning("threshold endpoint %r: no request of that name in this run", name)
        if self._greenlet is not None and self._greenlet is not gevent.getcurrent():
            self._greenlet.kill(block=False)
        if self.search is not None:
            self.search.stop()  # a search still running when the run ended says so
        # every worker's last part and report before the manifest: totals == records
        self.endings.collect_final(send=self._send_stop, pending=self._not_done)
        self._write_health()
        self._write_status()
        self._write_manifest()
        self.environment.process_exit_code = int(self.exit_code())

    def _set_abort(self, reason: str, by: AbortedBy) -> None:
        """Record the first reason the run ends early (later ones are consequences)."""
        if self.abort_reason is None:
            self.abort_reason, self.abort_by = reason, by
            self.abort_at = dt.datetime.now(dt.UTC)

    def exit_code(self) -> ExitCode:
        abort = None if self.abort_by is None else Abort(self.abort_reason or "", self.abort_by)
        return endings.exit_code(
            abort=abort, incomplete=self.incomplete_reasons(),
            untrustworthy=self.untrustworthy_reasons(),
        )  # fmt: skip

    def incomplete_reasons(self) -> list[str]:
        hard_end = self.abort_by is AbortedBy.HARD_END
        return self.endings.incomplete_reasons(hard_end)

    def _send_stop(self, client_id: str) -> None:
        self.environment.runner.send_message(endings.MSG_STOP, None, client_id)

    def _not_done(self) -> list[str]:
        """Members still sending (standalone: none, its engine stops on test_stop)."""
        if _locust_clients(self.environment.runner) is None:
            return []
        known = _locust_clients(self.environment.runner) or set()
        return [c for c in self.members if c in known and not self.workers[c].done]

    # ------------------------------------------------------------------ messages
    def on_beat(self, client_id: str, data: dict[str, Any]) -> None:
        info = self.workers.get(client_id)
        if info is None:
            info = self.workers[client_id] = WorkerInfo(client_id, data["worker"], time.monotonic())
        info.last_seen = time.monotonic()
        if "pid" in data:
            info.host, info.pid = data["host"], data["pid"]
        if data.get("instance_type"):
            info.instance_type = str(data["instance_type"])

    def on_health(self, client_id: str, data: dict[str, Any]) -> None:
        self.on_beat(client_id, data)
        info = self.workers[client_id]
        info.host, info.pid, info.done, info.last = data["host"], data["pid"], data["done"], data
        info.clock_offset_ms = (time.time() * 1e6 - data["time_us"]) / 1000.0
        self.endings.on_health(info.worker, data)
        cpu = data.get("cpu_percent") or 0.0
        info.cpu_hot_seconds = info.cpu_hot_seconds + 1 if cpu > SATURATED_CPU_PERCENT else 0
        if info.cpu_hot_seconds >= SATURATED_CPU_SECONDS:
            self._saturated.add(f"worker {info.worker} over {SATURATED_CPU_PERCENT:g}% CPU "
                                f"for {SATURATED_CPU_SECONDS}s")  # fmt: skip
        key = int(data["time_us"] // 1_000_000)
        if key not in self._seconds:  # a new second: forget those no window reads (a day of them)
            for old in [s for s in self._seconds if s < key - KEEP_SECONDS]:
                del self._seconds[old]
        second = self._seconds[key]
        second.outcomes.update(data["outcomes"])
        second.corrected.update(histogram.from_message(data["hist_corrected"]))
        second.uncorrected.update(histogram.from_message(data["hist_uncorrected"]))
        second.sent += data["sent"]
        self.live.observe(data)
        self._lag.update(histogram.from_message(data["lag_hist"]))
        self._totals.update(data["outcomes"])
        self.scenario_errors.add(data.get("scenario_errors"))
        self.client_switches.add(data.get("client_switches"))
        if self.search is not None:
            self.search.on_health(data)
        self._late += data["late"]
        self.health.add(data)
        wait = data.get("cpu_wait_percent") or 0.0
        if wait > OVERLOADED_CPU_WAIT_PERCENT:
            self._overloaded_seconds[info.worker] += 1

    # ------------------------------------------------------------------ the loop
    def _control_loop(self) -> None:
        next_status = last = time.monotonic()
        while True:
            self._excuse_own_stall(time.monotonic() - last - CONTROL_INTERVAL_S)
            last = time.monotonic()
            self._update_membership()
            now = time.time()
            offset = now - self.start_epoch
            if self.state is RunState.STARTING and offset >= 0:
                self.state = RunState.RUNNING
            if self.search is not None and self.state is RunState.RUNNING:
                self.search.tick(now)  # may end the stages sooner (the search is over)
            if self.state is RunState.RUNNING and offset >= self.schedule.duration_s:
                self.state = RunState.DRAINING
                self._end_seen = time.monotonic()
            if self.state is RunState.DRAINING and self._workers_done():
                self._end_seen = None
                self._request_stop()
            self._check_hard_end(now)
            if time.monotonic() >= next_status:
                next_status += STATUS_INTERVAL_S
                self._evaluate_thresholds()
                self._write_status()
                self.health.maybe_write()
            gevent.sleep(CONTROL_INTERVAL_S)

    def _check_hard_end(self, now: float) -> None:
        """The hard end ends the run here too (the workers stop by themselves; a fleet's
        agent also signals the master): the manifest must not call it finished."""
        if not self.hard_end_epoch or now < self.hard_end_epoch or self.should_stop():
            return
        if self.state in (RunState.STARTING, RunState.RUNNING, RunState.DRAINING):
            self._set_abort("the hard end was reached before the run ended", AbortedBy.HARD_END)
            self.state = RunState.ABORTING

    def _excuse_own_stall(self, stall_s: float) -> None:
        """A master frozen for a while (a starved process) heard no beats meanwhile: the
        workers were not silent, the master was deaf, so that time does not count."""
        if stall_s > CONTROL_INTERVAL_S:
            for w in self.workers.values():
                w.last_seen += stall_s

    def _workers_done(self) -> bool:
        live = [self.workers[c] for c in self.members if c in self.workers]
        waited = time.monotonic() - (self._end_seen or time.monotonic())
        return all(w.done for w in live) or waited > END_WAIT_MAX_S

    def _request_stop(self) -> None:
        self.state = RunState.DRAINING
        self._stop_requested = True

    def should_stop(self) -> bool:
        return self._stop_requested or self.state is RunState.ABORTING

    def _update_membership(self) -> None:
        known = _locust_clients(self.environment.runner)
        if known is None:  # standalone: the one local engine is always a member
            alive = sorted(self.workers)
        else:
            alive = sorted(c for c, w in self.workers.items() if c in known and _alive(w))
        if tuple(alive) == self.members:
            return
        gone = set(self.members) - set(alive)
        for c in gone:
            w = self.workers[c]
            if not w.done:
                share = 1 if self.schedule.per_worker else len(self.members)
                lost = {"id": w.worker, "host": w.host, "pid": w.pid, "share": share}
                lost["lost_at"] = _iso(dt.datetime.now(dt.UTC))
                lost["switch_epoch"] = time.time() + RESPLIT_DELAY_S
                self.lost_workers.append(lost)
                logger.warning("worker %s lost; re-splitting over %d workers", w.worker, len(alive))
            elif self.state in (RunState.STARTING, RunState.RUNNING):
                self.endings.worker_left(w.worker, len(self.members))
        for c in set(alive) - set(self.members):
            back = [x for x in self.lost_workers if x["id"] == self.workers[c].worker]
            for x in back:  # it was only stalled (a starved process, not a dead one)
                self.lost_workers.remove(x)
                self.stalled_workers.append(self._stalled(x))
        self.members = tuple(alive)
        self.send_plans(time.time() + RESPLIT_DELAY_S)

    @property
    def resplit_delay_s(self) -> float:
        """How far ahead a new plan applies: the time it needs to reach every worker."""
        return RESPLIT_DELAY_S

    def send_plans(self, switch: float) -> None:
        """Every member's plan, applying from `switch` (a new split or a search's step)."""
        for index, client_id in enumerate(self.members):
            per_worker = self.schedule.per_worker
            plan = Plan(
                run_id=self.run_id,
                schedule_yaml=self.schedule.text,
                target=self.schedule.target,
                start_epoch=self.start_epoch,
                hard_end_epoch=self.hard_end_epoch,
                switch_epoch=switch,
                index=0 if per_worker else index,
                count=1 if per_worker else len(self.members),
                stages=self.search.plan_stages() if self.search is not None else None,
            )
            self.environment.runner.send_message(MSG_PLAN, plan.to_message(), client_id)

    # ------------------------------------------------------------------ merging
    def _window(self, seconds: int) -> _Second:
        last = int(time.time()) - 1
        merged = _Second()
        for s in range(last - seconds + 1, last + 1):
            sec = self._seconds.get(s)
            if sec is not None:
                merged.merge(sec)
        return merged

    def _metric(self, threshold: Threshold, window: _Second, seconds: int) -> float | None:
        total = sum(window.outcomes.values())
        if threshold.kind is MetricKind.LATENCY:
            if threshold.percentile is None:
                value = histogram.mean_us(window.corrected)
            else:
                value = histogram.percentile_us(window.corrected, threshold.percentile)
            return None if value is None else value / 1e6
        if threshold.kind is MetricKind.RATE:  # achieved: successful answers, as the report
            return trust.successful(window.outcomes) / seconds
        if total == 0:
            return None
        return trust.outcome_rates(window.outcomes, total)[threshold.metric]

    def _evaluate_thresholds(self) -> None:
        if self.state not in (RunState.RUNNING, RunState.DRAINING):
            return
        window = self._window(LIVE_WINDOW_S)
        now = time.monotonic()
        for i, t in enumerate(self.schedule.thresholds):
            sample = (
                window
                if t.name is None
                else self.live.endpoint_window(t.name, int(time.time()) - 1, LIVE_WINDOW_S)
            )  # None: the endpoint had no request in the window, nothing to judge
            value = None if sample is None else self._metric(t, sample, LIVE_WINDOW_S)
            failing = value is not None and not t.passes(value)
            if not failing:
                self._breach_since.pop(i, None)
                no_data = sample is None or value is None
                self._threshold_states[i] = (
                    ThresholdState.NO_DATA if no_data and t.name else ThresholdState.PASSING
                )
                continue
            since = self._breach_since.setdefault(i, now)
            state = ThresholdState.FAILING
            if t.abort_on_fail and now - since >= t.for_s:
                state = ThresholdState.ABORTING
                if self.state is RunState.RUNNING:
                    reason = f"threshold {t.rule} failed for {now - since:.0f}s (live)"
                    self._set_abort(reason, AbortedBy.THRESHOLD)
                    logger.error("aborting the run: %s", self.abort_reason)
                    self.state = RunState.ABORTING
            self._threshold_states[i] = state

    def untrustworthy_reasons(self) -> list[str]:
        reasons = sorted(self._saturated)
        p99 = histogram.percentile_us(self._lag, 99)
        if p99 is not None and p99 > MAX_SEND_LAG_P99_US:
            reasons.append(
                f"send lag p99 {p99 / 1000:.1f} ms over {MAX_SEND_LAG_P99_US / 1000:g} ms"
                + self._lag_cause()
            )
        total = sum(self._totals.values())
        if total and self._totals["dropped"] / total > MAX_DROPPED_FRACTION:
            reasons.append(f"{self._totals['dropped'] / total:.2%} of requests dropped "
                           f"(over {MAX_DROPPED_FRACTION:.1%})")  # fmt: skip
        if self.lost_workers:
            reasons.append(f"{len(self.lost_workers)} worker(s) lost during the run")
        doubled = sum(x["doubled_estimate"] for x in self.stalled_workers)
        expected = self.schedule.expected_requests(max(len(self.members), 1))
        if doubled > MAX_DROPPED_FRACTION * expected:
            reasons.append(
                f"{len(self.stalled_workers)} worker(s) went silent for over "
                f"{WORKER_SILENCE_S:g}s; up to {doubled:.0f} arrivals were offered twice"
            )
        return reasons

    def _stalled(self, lost: dict[str, Any]) -> dict[str, Any]:
        """A worker that went silent and came back: its share meanwhile also went to others.

        Usually a CPU-starved process rather than a dead one. It kept its old share until
        its new plan applies, so at most that share between the re-split and now (plus the
        new plan's delay) was offered twice; the run is untrustworthy only if that matters.
        """
        now = time.time()
        start, end = lost["switch_epoch"], now + RESPLIT_DELAY_S
        cumulative = CumulativeRate(self.schedule.stages)
        owed = cumulative.at(end - self.start_epoch) - cumulative.at(start - self.start_epoch)
        return {**lost, "back_at": _iso(dt.datetime.now(dt.UTC)),
                "doubled_estimate": round(max(owed, 0.0) / max(lost["share"], 1), 1)}  # fmt: skip

    def _lag_cause(self) -> str:
        """Whose fault the lag was, from the workers' CPU-wait samples (see locustfiles.health)."""
        if not self._overloaded_seconds:
            return ""
        worst, seconds = self._overloaded_seconds.most_common(1)[0]
        return (
            f" (the machine was overloaded: worker {worst} waited for a CPU over "
            f"{OVERLOADED_CPU_WAIT_PERCENT:g}% of the time in {seconds} one-second samples)"
        )

    # ------------------------------------------------------------------ outputs
    def status(self) -> dict[str, Any]:
        now = time.time()
        elapsed = max(now - self.start_epoch, 0.0) if self.start_epoch else 0.0
        stage = self.schedule.stage_at(elapsed)
        n_workers = len(self.members)
        return {
            "state": self.state.value,
            "final": self.state.final,  # the UI asks this rather than keep its own state list
            "limits": trust.limits(),  # and shows saturation by the limits the master applies
            "threshold_states": trust.threshold_states(),  # labels/tones: no copy in the UI
            "run_id": self.run_id,
            "time": _iso(dt.datetime.now(dt.UTC)),
            "started_at": _iso(self.started_at),
            "elapsed_s": round(elapsed, 1),
            "remaining_s": round(max(self.schedule.duration_s - elapsed, 0.0), 1),
            "duration_s": self.schedule.duration_s,
            "stage_index": stage.index if stage else None,
            "stage_name": stage.name if stage else None,  # the schedule's label, if any
            "stage_count": len(self.schedule.stages),
            "offered_rps": round(self.schedule.rate_at(elapsed, max(n_workers, 1)), 2),
            # one vocabulary with the report: achieved = successful answers (ok + rejected)
            # per second; sent beside it
            **_rates(self._window(RATE_WINDOW_S), RATE_WINDOW_S),
            # the offered rate over the same seconds (the terminal sets it beside achieved)
            "offered_window_rps": self._offered_over_rate_window(n_workers),
            "whole_run": self._whole_run(elapsed, n_workers),  # shown after the end
            **_latency_ms(self._window(STATUS_WINDOW_S)),
            "requests": sum(self._totals.values()),
            "outcomes": dict(self._totals),
            "errors": self._totals["error"] + self._totals["timeout"],
            "late": self._late,
            "dropped": self._totals["dropped"],
            "in_flight": sum(self.workers[c].last.get("in_flight", 0) for c in self.members),
            "workers": [self._worker_status(self.workers[c]) for c in self.members],
            "lost_workers": list(self.lost_workers),
            "thresholds": self._threshold_status(),
            "abort_reason": self.abort_reason,
            "untrustworthy": self.untrustworthy_reasons(),
            "search": self.search.status() if self.search is not None else None,
            # a search's stages are the steps decided so far: the web UI's timeline
            "stages": [st.to_dict() for st in self.schedule.stages] if self.search else None,
        }

    def _whole_run(self, elapsed: float, n_workers: int) -> dict[str, Any]:
        """Averages since the start: what the terminal shows after the end."""
        end = self.ended_at.timestamp() - self.start_epoch if self.ended_at else elapsed
        return offered.whole_run(
            self.schedule,
            totals=self._totals,
            workers=max(n_workers, 1),
            elapsed_s=end,
            sent=sum(self._totals.values()) - self._totals["dropped"],
        )

    def _threshold_status(self) -> list[dict[str, Any]]:
        return [
            {
                "rule": t.rule,
                "abort_on_fail": t.abort_on_fail,
                "state": self._threshold_states.get(i, ThresholdState.NO_DATA).value,
            }
            for i, t in enumerate(self.schedule.thresholds)
        ]

    def _offered_over_rate_window(self, n_workers: int) -> float | None:
        if not self.start_epoch:
            return None
        end = int(time.time()) - self.start_epoch  # _window's last second ends here
        mean = offered.mean_offered_rps(self.schedule, end - RATE_WINDOW_S, end, max(n_workers, 1))
        return round(mean, 2)

    def _worker_status(self, w: WorkerInfo) -> dict[str, Any]:
        lag = w.last.get("send_lag_p99_us")
        return {
            "id": w.worker,
            "cpu_percent": w.last.get("cpu_percent"),
            "cpu_wait_percent": w.last.get("cpu_wait_percent"),
            "send_lag_p99_ms": None if lag is None else round(lag / 1000.0, 2),
            "in_flight": w.last.get("in_flight", 0),
            "saturated": w.cpu_hot_seconds >= SATURATED_CPU_SECONDS
            or (lag is not None and lag > MAX_SEND_LAG_P99_US),
        }

    def _write_status(self) -> None:
        try:
            write_status(self.run_dir, self.status())
        except OSError:
            logger.exception("could not write status.json")

    def _write_health(self) -> None:
        self.health.write()  # the last part (locustfiles.health_parts)

    def _write_manifest(self) -> None:
        try:
            self.manifest().dump(self.run_dir)
        except OSError:
            logger.exception("could not write manifest.json")

    def manifest(self) -> Manifest:
        """The run's manifest as it stands (rewritten at the start and at the end)."""
        abort = None
        if self.abort_reason is not None:
            abort = Abort(self.abort_reason, self.abort_by or AbortedBy.PERSON, self.abort_at)
        manifest = Manifest.new(
            run_id=self.run_id,
            schedule=self.schedule,
            started_at=self.started_at,
            ended_at=self.ended_at,
            hard_end=dt.datetime.fromtimestamp(self.hard_end_epoch, dt.UTC)
            if self.hard_end_epoch else None,
            state=self.state,
            workers=[_worker_entry(w) for w in self.workers.values()],
            master=MasterEntry(host=_HOSTNAME, instance_type=own_instance_type()),
            clock_offsets_ms={w.worker: round(w.clock_offset_ms, 3) for w in self.workers.values()},
            lost_workers=[self.endings.lost_detail(x) for x in self.lost_workers],
            stalled_workers=list(self.stalled_workers),
            **self.endings.manifest_fields(self.incomplete_reasons()),
            abort=abort,
            untrustworthy=self.untrustworthy_reasons(),
            totals=Totals(sum(self._totals.values()), dict(self._totals), self._late),
            engine={"clock_offsets": "master receive time minus worker send time of the last "
                    "health report (includes one-way message delay)"},
        )  # fmt: skip
        if self.search is not None:
            manifest.search = self.search.record()  # the report's search section
        # #21: which client drives the scenario's class and why, ignored wait_time
        manifest.scenario_client = self.client_switches.annotate(
            describe_for_manifest(self.environment, self.schedule)
        )  # + "switched": users moved to Locust's client at call time
        manifest.scenario_errors = self.scenario_errors.manifest_rows()
        return manifest


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if t else None


def _alive(worker: WorkerInfo) -> bool:
    """Beating recently, or silent but a live process on this host (a starved one)."""
    silent = time.monotonic() - worker.last_seen
    if silent <= WORKER_SILENCE_S:
        return True
    if silent > ALIVE_SILENCE_S or worker.host != _HOSTNAME or worker.pid <= 0:
        return False
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    return _not_zombie(worker.pid)


def _not_zombie(pid: int) -> bool:
    """A killed child not yet reaped by its parent still answers kill(pid, 0)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _latency_ms(window: Any) -> dict[str, float | None]:
    """Corrected and uncorrected p95/p99 of a merged window, in milliseconds."""

    def ms(hist: collections.Counter, pct: float) -> float | None:
        v = histogram.percentile_us(hist, pct)
        return None if v is None else round(v / 1000.0, 2)

    return {
        "p95_ms": ms(window.corrected, 95),
        "p99_ms": ms(window.corrected, 99),
        "p95_uncorrected_ms": ms(window.uncorrected, 95),
        "p99_uncorrected_ms": ms(window.uncorrected, 99),
    }


def _rates(window: _Second, seconds: int) -> dict[str, float]:
    answered = trust.successful(window.outcomes) / seconds
    return {
        "achieved_rps": round(answered, 2),
        "answered_rps": round(answered, 2),
        "sent_rps": round(window.sent / seconds, 2),
    }


def _locust_clients(runner: Any) -> set[str] | None:
    """Worker ids Locust still counts as connected (None for a standalone runner)."""
    clients = getattr(runner, "clients", None)
    if clients is None:
        return None
    return {c.id for c in clients.all if c.state != "missing"}


def _worker_entry(w: WorkerInfo) -> WorkerEntry:
    """A worker as the manifest lists it."""
    return WorkerEntry(id=w.worker, host=w.host, pid=w.pid, instance_type=w.instance_type)
