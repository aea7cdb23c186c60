"""One worker's open-model loop: arrivals on schedule, a slot each, independent of responses.

A dispatcher greenlet sleeps until each intended send time of this worker's share
(`locustfiles.arrivals`) and hands the arrival to a free slot. A slot is a pooled
instance of the scenario's User class (so ``self.client`` keeps its keep-alive
connection) running exactly one task per arrival, with no ``wait_time``. Slots grow on
demand up to ``max_in_flight``; beyond that arrivals queue (they become late) and one
still queued ``max_lateness`` after its intended time is recorded as dropped. Nothing is
started at or after the hard end.
"""

from __future__ import annotations

import collections
import enum
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent
import gevent.pool
from gevent.event import Event
from locust import User
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser

from locustfiles.arrivals import ArrivalStream
from locustfiles.context import CURRENT_ARRIVAL, Arrival
from locustfiles.guard import guard_user
from locustfiles.recorder import DROPPED_LATE, DROPPED_STOPPED, Recorder
from surge.errors import ScheduleError

logger = logging.getLogger(__name__)

SPIN_THRESHOLD_S = 0.0005  # closer than this to an intended time: send now, do not sleep
LATE_AFTER_S = 0.010  # the health contract's definition of "late"
SWEEP_INTERVAL_S = 0.1  # how often queued arrivals are checked against max_lateness
DRAIN_POLL_S = 0.05
MAX_LOGGED_ERRORS = 100  # distinct task errors written to the log per process
ON_STOP_TIMEOUT_S = 1.0  # per user; a hanging on_stop must not hold up the run's end


class DispatchState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    DRAINING = "draining"  # no new arrivals; waiting for in-flight requests
    DONE = "done"


class TaskPicker:
    """Chooses one task function of a user class per arrival, by the schedule's `mix`."""

    def __init__(self, user_class: type[User], mix: dict[str, float]) -> None:
        tasks = list(user_class.tasks or [])
        if not tasks:
            raise ScheduleError([f"user class {user_class.__name__} has no tasks"], "scenario")
        for t in tasks:
            if isinstance(t, type):
                raise ScheduleError(
                    [f"{user_class.__name__}: TaskSet {t.__name__} is not supported; an arrival "
                     "runs one task function, so list task functions on the User class"],
                    "scenario",
                )  # fmt: skip
        by_name = {t.__name__: t for t in tasks}
        if mix:
            unknown = sorted(set(mix) - set(by_name))
            if unknown:
                raise ScheduleError(
                    [f"scenario.mix: {', '.join(unknown)} not tasks of {user_class.__name__} "
                     f"(it has: {', '.join(sorted(by_name))})"],
                    "scenario",
                )  # fmt: skip
            self._tasks = [by_name[n] for n, w in mix.items() if w > 0]
            self._weights = [w for w in mix.values() if w > 0]
        else:
            self._tasks, self._weights = tasks, [1.0] * len(tasks)  # Locust repeats by weight
        self._cum = list(_accumulate(self._weights))
        self.names = [t.__name__ for t in self._tasks]

    def pick(self, rng: random.Random) -> Callable[[User], Any]:
        if len(self._tasks) == 1:
            return self._tasks[0]
        x = rng.random() * self._cum[-1]
        lo = 0
        while self._cum[lo] < x:
            lo += 1
        return self._tasks[lo]


def _accumulate(values: Sequence[float]):
    total = 0.0
    for v in values:
        total += v
        yield total


class Dispatcher:
    """Arrivals -> slots for one worker process.

    Attributes:
        in_flight: arrivals being served right now.
        lags: send lags (seconds) since the health sampler last took them.
        late, dropped, sent: counters since the health sampler last took them.
    """

    def __init__(
        self,
        *,
        environment: Any,
        user_class: type[User],
        picker: TaskPicker,
        recorder: Recorder,
        stream: ArrivalStream,
        start_epoch: float,
        hard_end_epoch: float,
        max_in_flight: int,
        max_lateness_s: float,
        allow_hosts: tuple[str, ...],
        timeout_s: float,
    ) -> None:
        self.environment = environment
        self.user_class = user_class
        self.picker = picker
        self.recorder = recorder
        self.stream = stream
        self.start_epoch = start_epoch
        self.hard_end_epoch = hard_end_epoch
        self.max_in_flight = max_in_flight
        self.max_lateness_s = max_lateness_s
        self.allow_hosts = allow_hosts
        self.timeout_s = timeout_s
        self.state = DispatchState.IDLE
        self.in_flight = 0
        self.lags: list[float] = []
        self.late = self.dropped = self.sent = 0
        self._free: list[User] = []
        self._users: list[User] = []  # every slot's user, for on_stop
        self._created = 0
        self._backlog: collections.deque[Arrival] = collections.deque()
        self._wake = Event()
        self._rng = random.Random()
        self._greenlets = gevent.pool.Group()
        self._main: gevent.Greenlet | None = None
        self._logged: set[str] = set()

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self.state = DispatchState.RUNNING
        self._main = gevent.spawn(self._run)
        self._greenlets.spawn(self._sweep_backlog)

    def nudge(self) -> None:
        """Re-read the arrival stream now (after a re-split)."""
        self._wake.set()

    def stop(self, *, keep_backlog: bool = False) -> None:
        """Start nothing new. Queued arrivals are dropped now, or with `keep_backlog` (the
        schedule's regular end) still served until they pass max_lateness."""
        if self.state in (DispatchState.RUNNING, DispatchState.IDLE):
            self.state = DispatchState.DRAINING
        self._wake.set()
        if self._main is not None and self._main is not gevent.getcurrent():
            self._main.kill(block=False)
        if not keep_backlog:
            self._drop_backlog(DROPPED_STOPPED)

    def drain(self, timeout_s: float) -> None:
        """Wait for in-flight (and still queued) arrivals up to `timeout_s`, then abandon them."""
        deadline = time.monotonic() + timeout_s
        while (self.in_flight or self._backlog) and time.monotonic() < deadline:
            gevent.sleep(DRAIN_POLL_S)
        self._greenlets.kill(block=True, timeout=1.0)
        self._drop_backlog(DROPPED_STOPPED)
        self.state = DispatchState.DONE
        for user in self._users:  # Locust calls on_stop when a user ends; so do we
            with gevent.Timeout(ON_STOP_TIMEOUT_S, False):
                self._call(user.on_stop, None)
        self._users = []

    def _drop_backlog(self, reason: str) -> None:
        now = time.time()
        while self._backlog:
            self._drop(self._backlog.popleft(), now, reason)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        stream, wake = self.stream, self._wake
        while self.state is DispatchState.RUNNING:
            nxt = stream.peek()
            if nxt is None:
                break
            offset, stage = nxt
            intended = self.start_epoch + offset
            if intended >= self.hard_end_epoch:
                break
            delay = intended - time.time()
            if delay > SPIN_THRESHOLD_S:
                wake.clear()
                if wake.wait(delay):
                    continue  # re-split or stop: peek again
            stream.take()
            self.recorder.current_stage = stage
            self._submit(Arrival(intended, stage, self.picker.pick(self._rng)))
            if delay <= 0:
                gevent.sleep(0)  # behind schedule: still let responses be read
        self.state = DispatchState.DRAINING

    def _submit(self, arrival: Arrival) -> None:
        if self._free:
            user = self._free.pop()
        elif self._created < self.max_in_flight:
            user = None  # created inside the slot greenlet (its __init__ may be slow)
            self._created += 1
        else:
            self._backlog.append(arrival)
            return
        self.in_flight += 1
        self._greenlets.spawn(self._serve, user, arrival)

    def _serve(self, user: User | None, arrival: Arrival) -> None:
        try:
            if user is None:
                try:
                    user = self.user_class(self.environment)
                except Exception:
                    self._created -= 1
                    raise
                guard_user(user, allow_hosts=self.allow_hosts, timeout_s=self.timeout_s)
                self._users.append(user)
                self._call(user.on_start, arrival)
            self._run_one(user, arrival)
            while self._backlog and self.state is not DispatchState.DONE:
                nxt = self._backlog.popleft()
                now = time.time()
                if now - nxt.intended > self.max_lateness_s:
                    self._drop(nxt, now)
                    continue
                if now >= self.hard_end_epoch:
                    self._drop(nxt, now, DROPPED_STOPPED)
                    continue
                self._run_one(user, nxt)
        finally:
            self.in_flight -= 1
            if user is not None:
                self._free.append(user)

    def _run_one(self, user: User, arrival: Arrival) -> None:
        lag = time.time() - arrival.intended
        self.lags.append(lag)
        self.sent += 1
        if lag > LATE_AFTER_S:
            self.late += 1
        self._call(arrival.task, arrival, user)

    def _call(self, fn: Callable, arrival: Arrival, *args: Any) -> None:
        token = CURRENT_ARRIVAL.set(arrival)
        try:
            fn(*args)
        except (RescheduleTask, RescheduleTaskImmediately, InterruptTaskSet, StopUser):
            pass
        except gevent.GreenletExit:
            raise
        except Exception as exc:
            self.environment.events.user_error.fire(
                user_instance=args[0] if args else None, exception=exc, tb=exc.__traceback__
            )
            self._log_once(exc)
        finally:
            CURRENT_ARRIVAL.reset(token)

    def _log_once(self, exc: Exception) -> None:
        """A failing task fails thousands of times: log each distinct message once."""
        text = f"{type(exc).__name__}: {exc}"
        if text not in self._logged and len(self._logged) < MAX_LOGGED_ERRORS:
            self._logged.add(text)
            logger.error("a task failed (logged once): %s", text, exc_info=exc)

    def _drop(self, arrival: Arrival, now: float, reason: str = DROPPED_LATE) -> None:
        self.dropped += 1
        self.recorder.record_dropped(
            arrival.task.__name__, arrival.intended, arrival.stage, now, reason
        )

    def _sweep_backlog(self) -> None:
        while self.state is not DispatchState.DONE:
            now = time.time()
            backlog = self._backlog
            while backlog and now - backlog[0].intended > self.max_lateness_s:
                self._drop(backlog.popleft(), now)
            gevent.sleep(SWEEP_INTERVAL_S)
