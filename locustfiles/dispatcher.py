"""One worker's open-model loop: arrivals on schedule, a slot each, independent of responses.

A dispatcher greenlet wakes at most once per `TICK_S` and releases every arrival of this
worker's share (`locustfiles.arrivals`) that is due by then into a ready queue; each
arrival keeps its own exact intended send time, the tick only batches the wake-ups (one
timer per tick instead of one per request). Slots are long-lived greenlets, each owning
one instance of the scenario's User class (so ``self.client`` keeps its keep-alive
connection), that take arrivals from the ready queue and run exactly one task each, with
no ``wait_time`` (what "one task" means for TaskSets, interrupts and StopUser:
`locustfiles.tasks`). Slots are added on demand up to ``max_in_flight``; beyond that arrivals
wait in the queue and become late. An arrival whose send would happen more than
``max_lateness`` after its intended time is recorded as dropped and not sent, whoever
was late: a busy slot or the dispatcher itself. Nothing is started at or after the hard
end.
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
from gevent.hub import Waiter, get_hub
from locust import User
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser

from surge.errors import ScheduleError
from surge.locustfiles import heap
from surge.locustfiles.arrivals import ArrivalStream
from surge.locustfiles.context import CURRENT_ARRIVAL, Arrival
from surge.locustfiles.error_types import DROPPED_LATE, DROPPED_STOPPED
from surge.locustfiles.guard import guard_user
from surge.locustfiles.recorder import Recorder
from surge.locustfiles.tasks import SlotTasks, UserStopped, task_name

logger = logging.getLogger(__name__)

TICK_S = 0.002  # wake at most this often; due arrivals go out together (adds <= 2 ms lag)
INTERRUPTIBLE_WAIT_S = 0.05  # waits this long or longer can be cut short by a re-split or stop
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
            raise ScheduleError(
                [f"{user_class.__name__}: no tasks (use @task or set `tasks`); an arrival "
                 "runs one task"],
                "scenario",
            )  # fmt: skip
        by_name = {task_name(t): t for t in tasks}  # functions and TaskSet classes
        if mix:
            unknown = sorted(set(mix) - set(by_name))
            if unknown:
                raise ScheduleError(
                    [f"scenario.mix: {', '.join(unknown)} "
                     f"{'is not a task' if len(unknown) == 1 else 'are not tasks'} of "
                     f"{user_class.__name__} "
                     f"(it has: {', '.join(sorted(by_name))})"],
                    "scenario",
                )  # fmt: skip
            self._tasks = [by_name[n] for n, w in mix.items() if w > 0]
            self._weights = [w for w in mix.values() if w > 0]
        else:
            self._tasks, self._weights = tasks, [1.0] * len(tasks)  # Locust repeats by weight
        self._cum = list(_accumulate(self._weights))
        self.names = [task_name(t) for t in self._tasks]

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
        self._users: list[SlotTasks] = []  # every slot's user and task sets, for on_stop
        self._slots = 0
        self._ready: collections.deque[Arrival] = collections.deque()  # due, waiting for a slot
        self._idle: list[Waiter] = []  # slots waiting for an arrival
        self._wake = Event()
        self._rng = random.Random()
        self._greenlets = gevent.pool.Group()
        self._main: gevent.Greenlet | None = None
        self._logged: set[str] = set()
        self._settled = False  # `heap.settle` ran for this dispatcher

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        heap.settle()  # no full GC pass over start-up's objects in the middle of the run
        self._settled = True
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
        while (self.in_flight or self._ready) and time.monotonic() < deadline:
            gevent.sleep(DRAIN_POLL_S)
        self.state = DispatchState.DONE
        self._greenlets.kill(block=True, timeout=1.0)
        self._drop_backlog(DROPPED_STOPPED)
        for slot in self._users:  # Locust calls on_stop when a user ends; so do we
            with gevent.Timeout(ON_STOP_TIMEOUT_S, False):
                self._call(slot.stop, None, slot.user)
        self._users = []
        if self._settled:
            self._settled = False
            heap.release()

    def _drop_backlog(self, reason: str) -> None:
        now = time.time()
        while self._ready:
            self._drop(self._ready.popleft(), now, reason)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        stream, wake, clock = self.stream, self._wake, time.time
        start, hard_end, max_late = self.start_epoch, self.hard_end_epoch, self.max_lateness_s
        pick, rng, ready, sleep = self.picker.pick, self._rng, self._ready, gevent.sleep
        next_tick = 0.0  # no release before this, behind schedule or not
        while self.state is DispatchState.RUNNING:
            nxt = stream.peek()
            if nxt is None:
                break
            intended = start + nxt[0]
            if intended >= hard_end:
                break
            now = clock()
            if intended > now or now < next_tick:
                # sleep to the arrival, but wake no more often than once a tick. Behind
                # schedule too: a dispatcher that woke whenever the slots yielded would
                # release arrivals one by one and spend its CPU on wake-ups just when CPU
                # is short; per tick they go out together.
                delay = max(intended, next_tick) - now
                if delay < INTERRUPTIBLE_WAIT_S:
                    sleep(delay)  # a plain timer: a timed-out Event.wait raises, which costs
                else:
                    wake.clear()
                    wake.wait(delay)
                continue  # peek again: a re-split may have replaced the next arrival meanwhile
            released = 0
            while nxt is not None:  # release everything due by now
                intended = start + nxt[0]
                if intended > now or intended >= hard_end:
                    break
                stream.take()
                arrival = Arrival(intended, nxt[1], pick(rng))
                if now - intended > max_late:  # the dispatcher itself fell that far behind
                    self._drop(arrival, now)
                else:
                    ready.append(arrival)
                    released += 1
                nxt = stream.peek()
            self.recorder.current_stage = arrival.stage  # for requests outside arrivals
            if released:
                next_tick = now + TICK_S
                self._wake_slots(released)
        self.state = DispatchState.DRAINING

    def _wake_slots(self, count: int) -> None:
        """Hand `count` new arrivals to idle slots, adding slots up to max_in_flight."""
        idle, run_callback = self._idle, get_hub().loop.run_callback
        while count and idle:
            run_callback(idle.pop().switch, None)
            count -= 1
        while count and self._slots < self.max_in_flight:
            self._slots += 1
            self._greenlets.spawn(self._slot)
            count -= 1

    def _slot(self) -> None:
        """One slot: its own user instance, serving arrivals from the ready queue forever."""
        ready = self._ready
        try:
            slot = SlotTasks(self._new_user(), self._pick_user_task)
        except Exception:
            self._slots -= 1
            raise
        self._users.append(slot)
        while self.state is not DispatchState.DONE:
            if not ready:
                waiter = Waiter()
                self._idle.append(waiter)
                waiter.get()
                continue
            arrival = ready.popleft()
            self.in_flight += 1
            try:
                self._run_one(slot, arrival)  # on_start runs in it, before the first task
            finally:
                self.in_flight -= 1

    def _new_user(self) -> User:
        user = self.user_class(self.environment)
        guard_user(user, allow_hosts=self.allow_hosts, timeout_s=self.timeout_s)
        return user

    def _pick_user_task(self) -> Any:
        return self.picker.pick(self._rng)

    def _run_one(self, slot: SlotTasks, arrival: Arrival) -> None:
        now = time.time()
        lag = now - arrival.intended
        if lag > self.max_lateness_s:  # a send this late would measure the generator
            self._drop(arrival, now)
            return
        if now >= self.hard_end_epoch:
            self._drop(arrival, now, DROPPED_STOPPED)
            return
        self.lags.append(lag)
        self.sent += 1
        if lag > LATE_AFTER_S:
            self.late += 1
        if self._call(slot.run, arrival, slot.user, arrival.task) is UserStopped:
            try:  # StopUser: the slot's next arrival gets a new user (on_start again)
                slot.user = self._new_user()
            except Exception as exc:  # keep the stopped one rather than lose the slot
                self._log_once(exc)

    def _call(self, fn: Callable, arrival: Arrival | None, user: User, *args: Any) -> Any:
        """Run `fn(*args)` for `arrival`; task errors are reported, never raised.
        Returns `UserStopped` when the task stopped its user."""
        token = CURRENT_ARRIVAL.set(arrival)
        try:
            fn(*args)
        except UserStopped:
            return UserStopped
        except (RescheduleTask, RescheduleTaskImmediately, InterruptTaskSet, StopUser):
            pass
        except gevent.GreenletExit:
            raise
        except Exception as exc:
            self.environment.events.user_error.fire(
                user_instance=user, exception=exc, tb=exc.__traceback__
            )
            self._log_once(exc)
        finally:
            CURRENT_ARRIVAL.reset(token)
        return None

    def _log_once(self, exc: Exception) -> None:
        """A failing task fails thousands of times: log each distinct message once."""
        text = f"{type(exc).__name__}: {exc}"
        if text not in self._logged and len(self._logged) < MAX_LOGGED_ERRORS:
            self._logged.add(text)
            logger.error("a task failed (logged once): %s", text, exc_info=exc)

    def _drop(self, arrival: Arrival, now: float, reason: str = DROPPED_LATE) -> None:
        self.dropped += 1
        self.recorder.record_dropped(
            task_name(arrival.task), arrival.intended, arrival.stage, now, reason
        )

    def _sweep_backlog(self) -> None:
        """Queued arrivals past max_lateness are dropped even while every slot is busy."""
        while self.state is not DispatchState.DONE:
            now = time.time()
            ready = self._ready
            while ready and now - ready[0].intended > self.max_lateness_s:
                self._drop(ready.popleft(), now)
            gevent.sleep(SWEEP_INTERVAL_S)
