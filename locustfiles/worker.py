"""The worker side of a run: a plan from the master in, load out, records and health back.

A worker (or the single process of a standalone run) does nothing until the master
sends a `Plan`: the schedule text, the start and hard-end instants and this worker's
share. It then runs a `Dispatcher`, samples its health every second and reports it to
the master, and writes its records. It stops by itself at the schedule's end, at the
hard end, and when the master has been silent for `MASTER_SILENCE_S`.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import numpy as np

from surge.errors import ExitCode
from surge.locustfiles.arrivals import ArrivalStream, CumulativeRate, Split
from surge.locustfiles.client_switch import SWITCHES
from surge.locustfiles.dispatcher import Dispatcher, DispatchState, TaskPicker
from surge.locustfiles.endings import DISK_FULL, MASTER_LOST
from surge.locustfiles.health import ProcessHealth
from surge.locustfiles.histogram import bucket_counts
from surge.locustfiles.recorder import FLUSH_INTERVAL_S, Recorder
from surge.locustfiles.scenario_errors import ScenarioErrorCounter
from surge.locustfiles.user_class import apply_options, prepare_user_class
from surge.results import check_format_version, own_instance_type
from surge.schedule import parse_schedule
from surge.search import stages_from_dicts

logger = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 1.0
BEAT_INTERVAL_S = 0.25  # liveness for the master's re-split (a dead worker is noticed in ~1 s)
MASTER_SILENCE_S = 6.0  # no heartbeat from the master for this long: stop (contract: 10 s)
STOP_DRAIN_S = 1.5  # on a stop command, in-flight requests get this long, then are abandoned
END_DRAIN_MAX_S = 30.0  # at the schedule's end, wait at most this (or the timeout) for responses

MSG_PLAN = "surge_plan"
#: major version of the plan message: a worker refuses a plan of another major (a master
#: of a different surge), rather than running a split it may misread
PLAN_FORMAT_VERSION = 1
MSG_BEAT = "surge_beat"
MSG_HEALTH = "surge_health"


class WorkerState(enum.Enum):
    WAITING = "waiting"  # no plan yet
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True)
class Plan:
    """What the master tells a worker; sent again, with a new split, when membership changes."""

    run_id: str
    schedule_yaml: str
    target: str
    start_epoch: float
    hard_end_epoch: float
    switch_epoch: float  # the new split applies to arrivals from this instant on
    index: int
    count: int
    #: #20 a search's stages so far (Stage.to_dict rows); None: the schedule's own stages
    stages: list[dict[str, Any]] | None = None

    def to_message(self) -> dict[str, Any]:
        return {**asdict(self), "format_version": PLAN_FORMAT_VERSION}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Plan:
        """Raises `FormatVersionError` for a plan of a major version this surge does not know."""
        check_format_version(data.get("format_version"), {PLAN_FORMAT_VERSION}, "plan", MSG_PLAN)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def worker_name() -> str:
    """A readable id, unique on a host: ``<hostname>-<pid>``."""
    return f"{socket.gethostname()}-{os.getpid()}"


class WorkerEngine:
    """Everything one generator process does for a run.

    Attributes:
        environment: Locust's Environment of this process.
        run_dir: where this worker's parts go.
        worker_id: its name in records, parts and health.
        state: WAITING until the first plan, RUNNING, then DONE.
    """

    def __init__(self, *, environment: Any, run_dir: Path, worker_id: str | None = None) -> None:
        self.environment = environment
        self.run_dir = Path(run_dir)
        self.worker_id = worker_id or worker_name()
        self.state = WorkerState.WAITING
        self.plan: Plan | None = None
        self.recorder: Recorder | None = None
        self.dispatcher: Dispatcher | None = None
        self._cum: CumulativeRate | None = None
        self._health = ProcessHealth()
        self._last_master = time.monotonic()
        self._greenlets: list[gevent.Greenlet] = []
        self._stopping = False
        self._stopper: Any = None
        self._stopped = gevent.event.Event()  # set once the first stop has written its last part
        #: the scenario's own exceptions per (task, type), sent with each health report
        self.scenario_errors = ScenarioErrorCounter()
        environment.events.user_error.add_listener(self.scenario_errors.on_user_error)
        #: who this is, in every beat and health report (the master's membership and cost)
        self._identity = {
            "host": socket.gethostname(), "pid": os.getpid(), "instance_type": own_instance_type(),
        }  # fmt: skip

    # ------------------------------------------------------------------ messages
    def on_plan(self, plan: Plan) -> None:
        if self.plan is not None and plan.run_id == self.plan.run_id:
            self._resplit(plan)
            return
        if self.state is not WorkerState.WAITING:
            logger.warning("ignoring a plan for run %s while in %s", plan.run_id, self.state)
            return
        self._begin(plan)

    def master_seen(self) -> None:
        self._last_master = time.monotonic()

    # ------------------------------------------------------------------ lifecycle
    def _begin(self, plan: Plan) -> None:
        schedule = parse_schedule(plan.schedule_yaml, source="schedule from master")
        if plan.target != schedule.target:
            schedule = schedule.with_target(plan.target)
        user_class = prepare_user_class(schedule, self.environment.user_classes_by_name)
        apply_options(self.environment, schedule)  # the file's own options, from the schedule
        picker = TaskPicker(user_class, dict(schedule.scenario.mix))
        self._cum = CumulativeRate(stages_from_dicts(plan.stages) or schedule.stages)
        split = Split(self._switch_count(plan), plan.index, plan.count)
        self.recorder = Recorder(run_dir=self.run_dir, worker_id=self.worker_id)
        # the recorder listens itself (no wrapper call per request) until `stop` unhooks it
        self.environment.events.request.add_listener(self.recorder.on_request)
        self.dispatcher = Dispatcher(
            environment=self.environment,
            user_class=user_class,
            picker=picker,
            recorder=self.recorder,
            stream=ArrivalStream(self._cum, schedule.arrivals, split),
            start_epoch=plan.start_epoch,
            hard_end_epoch=plan.hard_end_epoch,
            max_in_flight=schedule.limits.max_in_flight,
            max_lateness_s=schedule.limits.max_lateness_s,
            allow_hosts=schedule.allow_hosts,
            timeout_s=schedule.limits.timeout_s,
        )
        self.plan = plan
        self._schedule = schedule
        self.state = WorkerState.RUNNING
        self.dispatcher.start()
        self._health.probe.start()
        self._greenlets += [
            gevent.spawn(self._health_loop),
            gevent.spawn(self._end_watch),
        ]
        logger.info(
            "worker %s: share %d/%d of run %s", self.worker_id, plan.index, plan.count, plan.run_id
        )

    def _switch_count(self, plan: Plan) -> float:
        assert self._cum is not None
        return self._cum.at(plan.switch_epoch - plan.start_epoch)

    def _resplit(self, plan: Plan) -> None:
        if self.dispatcher is None or self.state is not WorkerState.RUNNING:
            return
        if plan.stages is not None:  # a search's next step: the same rates before the switch
            self._cum = CumulativeRate(stages_from_dicts(plan.stages))
            self.dispatcher.stream.restage(self._cum, self._switch_count(plan))
        self.dispatcher.stream.resplit(Split(self._switch_count(plan), plan.index, plan.count))
        self.dispatcher.nudge()
        self.plan = plan
        logger.info("worker %s: re-split to %d/%d", self.worker_id, plan.index, plan.count)

    def _end_watch(self) -> None:
        """End of the schedule (drain, final part), hard end, or a silent master."""
        assert self.plan is not None and self.dispatcher is not None
        while self.dispatcher.state is DispatchState.RUNNING:
            gevent.sleep(0.1)
            if time.time() >= self.plan.hard_end_epoch:
                logger.error("hard end reached: stopping")
                # nothing is sent after the hard end; answers already on their way are
                # still recorded (the target answered them)
                self.stop(drain_s=STOP_DRAIN_S)
                self.environment.process_exit_code = int(ExitCode.INFRASTRUCTURE)  # cut short
                self._quit_process()
                return
            if self._master_silent():
                logger.error("no heartbeat from the master for %.0fs: stopping", MASTER_SILENCE_S)
                self._lost_master()
                return
        drain = min(self._schedule.limits.timeout_s, END_DRAIN_MAX_S)
        drain = min(drain, max(self.plan.hard_end_epoch - time.time(), 0.0))
        self.stop(drain_s=drain, keep_backlog=True)
        while not self._master_silent():
            gevent.sleep(0.5)
        if self.environment.runner is not None and _is_worker(self.environment.runner):
            logger.error("no heartbeat from the master for %.0fs: quitting", MASTER_SILENCE_S)
            self._lost_master()

    def _lost_master(self) -> None:
        """Stop, write what this worker knows into its account, exit with code 4: the
        run's manifest will not be finished by the master, the report must say so."""
        if self.recorder is not None:
            self.recorder.ledger.ending = {
                "kind": MASTER_LOST, "at": time.time(),
                "reason": f"no heartbeat from the master for {MASTER_SILENCE_S:g}s",
            }  # fmt: skip
        self.stop(drain_s=STOP_DRAIN_S)
        if self.recorder is not None:
            self.recorder.ledger.write_account()
        self.environment.process_exit_code = int(ExitCode.INFRASTRUCTURE)
        self._quit_process()

    def _master_silent(self) -> bool:
        if not _is_worker(self.environment.runner):
            return False
        return time.monotonic() - self._last_master > MASTER_SILENCE_S

    def _quit_process(self) -> None:
        runner = self.environment.runner
        if runner is not None:
            gevent.spawn(runner.quit)

    def stop(self, drain_s: float = STOP_DRAIN_S, *, keep_backlog: bool = False) -> None:
        """Stop sending now, wait up to `drain_s` for responses, write the final part.

        `keep_backlog`: the schedule ended normally, so arrivals still queued for a slot
        are served while within max_lateness (a stop or the hard end drops them)."""
        if self.dispatcher is None:
            return
        if self._stopping and self._stopper is gevent.getcurrent():
            return  # re-entered from within the first stop: nothing to wait for
        if self._stopped.is_set() or self._stopping:
            # a second stop (SIGTERM and the master's quit, Ctrl-C and the hard end...)
            # waits for the first: returning at once let Locust exit mid-drain and lose
            # the last part (issue 19). The first stop never calls this again.
            self._stopped.wait()
            return
        self._stopping = True
        self._stopper = gevent.getcurrent()
        try:
            self.dispatcher.stop(keep_backlog=keep_backlog)
            self.dispatcher.drain(drain_s)
            # responses after this are abandoned (not recorded, not counted)
            assert self.recorder is not None
            self.environment.events.request.remove_listener(self.recorder.on_request)
            self.state = WorkerState.DONE
            self._health.probe.stop()
            self.recorder.flush(wait=True)
            # one last report, "done" only now: the master writes its manifest when every
            # worker is done, and it must count the last part too
            self._send_health()
        finally:
            self._stopped.set()

    # ------------------------------------------------------------------ health
    def beat_loop(self) -> None:
        """Liveness for the master's membership (runs from process start)."""
        while True:
            try:
                beat = {"worker": self.worker_id, "state": self.state.value, **self._identity}
                self.environment.runner.send_message(MSG_BEAT, beat)
            except Exception:  # the master is gone or reconnecting; the watchdog decides
                logger.debug("beat not sent", exc_info=True)
            gevent.sleep(BEAT_INTERVAL_S)

    def _health_loop(self) -> None:
        ticks_per_flush = max(1, round(FLUSH_INTERVAL_S / HEALTH_INTERVAL_S))
        tick = 0
        next_at = time.monotonic() + HEALTH_INTERVAL_S
        while self.state is WorkerState.RUNNING:
            gevent.sleep(max(next_at - time.monotonic(), 0.0))
            next_at += HEALTH_INTERVAL_S
            if self.state is not WorkerState.RUNNING:
                break
            self._send_health()
            tick += 1
            if tick % ticks_per_flush == 0 and self.recorder is not None:
                self.recorder.flush()
                if self.recorder.ledger.failure is not None:
                    gevent.spawn(self._write_failed, self.recorder.ledger.failure)
                    return

    def _write_failed(self, failure: str) -> None:
        """A part could not be written (a full disk): stop sending, keep what is on disk,
        tell the master (the health report carries `failure`) and leave, exit code 4."""
        logger.error("%s: stopping this worker", failure)
        assert self.recorder is not None
        self.recorder.ledger.ending = {"kind": DISK_FULL, "at": time.time(), "reason": failure}
        self.stop(drain_s=STOP_DRAIN_S)
        self.environment.process_exit_code = int(ExitCode.INFRASTRUCTURE)
        if _is_worker(self.environment.runner):
            self._quit_process()

    def _send_health(self) -> None:
        if self.dispatcher is None or self.recorder is None:
            return
        d = self.dispatcher
        lags, d.lags = d.lags, []
        sent, late, dropped = d.sent, d.late, d.dropped
        d.sent = d.late = d.dropped = 0
        summary = self.recorder.sample()
        lag_us = np.asarray(lags, dtype=np.float64) * 1e6
        if lag_us.size:
            p50, p99 = np.percentile(lag_us, [50, 99])
            lag = {"send_lag_p50_us": int(p50), "send_lag_p99_us": int(p99),
                   "send_lag_max_us": int(lag_us.max())}  # fmt: skip
        else:
            lag = {"send_lag_p50_us": None, "send_lag_p99_us": None, "send_lag_max_us": None}
        data = {
            "worker": self.worker_id,
            **self._identity,
            "run_id": self.plan.run_id if self.plan else None,
            "time_us": int(time.time() * 1e6),
            **self._health.sample(),
            "in_flight": d.in_flight,
            "sent": sent,
            "late": late,
            "dropped": dropped,
            "done": self.state is WorkerState.DONE,
            "lag_hist": bucket_counts(lag_us),
            **lag,
            **summary,
            # parts written since the last report (name -> rows) and a write failure
            "parts": self.recorder.ledger.take_new(),
            "failure": self.recorder.ledger.failure,
            "scenario_errors": self.scenario_errors.take(),  # since the last report
            "client_switches": SWITCHES.take(),  # users moved to Locust's client (#21)
        }
        try:
            self.environment.runner.send_message(MSG_HEALTH, data)
        except Exception:
            logger.debug("health not sent", exc_info=True)


def _is_worker(runner: Any) -> bool:
    from locust.runners import WorkerRunner

    return isinstance(runner, WorkerRunner)
