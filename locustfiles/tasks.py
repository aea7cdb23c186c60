"""What one arrival runs: Locust's task model, one task per arrival instead of a loop.

Locust runs a user as a loop: pick a task, run it, ``wait_time``, repeat; a task that is
a TaskSet class takes over the loop until it is interrupted. In the open model the loop
is the schedule: each arrival runs exactly one task *function*, on the long-lived user
of the slot that serves it (`locustfiles.dispatcher`), and the slot remembers where the
user is in its task sets between arrivals:

- A user with plain tasks: the arrival runs the task the dispatcher picked by weight
  (``@task(n)``, ``tasks`` list or dict, or the schedule's ``scenario.mix``).
- A picked TaskSet class is entered (created with its parent, ``on_start`` run) and the
  same arrival runs one task of it, picked by *its* weights; the slot stays inside it,
  so the slot's next arrivals run tasks of that set, nested sets likewise.
- A SequentialTaskSet runs the slot's next task in declaration order per arrival.
- ``self.interrupt()`` (InterruptTaskSet) leaves the set (its ``on_stop`` runs): with
  ``reschedule=True`` (the default) the same arrival runs the parent's next task, as
  Locust reschedules at once; with ``reschedule=False`` the arrival ends there.
  ``RescheduleTaskImmediately`` likewise runs another task now, ``RescheduleTask`` ends
  the arrival. Tasks queued with ``schedule_task`` run first, one per arrival.
- ``StopUser`` ends the slot's user (task sets' and the user's ``on_stop`` run); the
  slot's next arrival starts a fresh user (``on_start`` again), so the offered load is
  kept.
- ``on_start`` of the user runs once per slot before its first task, ``on_stop`` when
  the run ends; ``wait_time`` is never called (the schedule sets the pace).

A task that raises anything else is reported through Locust's ``user_error`` event and
ends the arrival; the user stays where it was, as Locust's ``catch_exceptions`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from locust import User
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser
from locust.user.task import TaskSet

logger = logging.getLogger(__name__)

#: tasks one arrival may run when every one of them reschedules at once (interrupt,
#: RescheduleTaskImmediately) or enters a set: beyond this the arrival ends, so a
#: scenario that only ever interrupts cannot spin a slot forever
MAX_STEPS_PER_ARRIVAL = 32


class UserStopped(Exception):
    """The task raised StopUser: the slot replaces its user before the next arrival."""


def is_task_set(task: Any) -> bool:
    return isinstance(task, type) and issubclass(task, TaskSet)


class SlotTasks:
    """One slot's user and where it stands in its task sets.

    Attributes:
        user: the slot's User instance (replaced after a StopUser).
        stack: the task sets entered, outermost first.
    """

    def __init__(self, user: User, pick: Callable[[], Any]) -> None:
        self.user = user
        self.stack: list[TaskSet] = []
        self.started = False
        self._pick = pick  # a user-level task by the scenario's weights

    def run(self, picked: Callable[..., Any] | type[TaskSet]) -> None:
        """Run one arrival: `picked` (the user-level pick) unless the slot is inside a set.

        Raises `UserStopped` after a StopUser (on_stop already called)."""
        if not self.started:
            self.started = True
            try:
                self.user.on_start()
            except StopUser:
                self.stop()
                raise UserStopped() from None
        task: Any = picked if not self.stack else None
        for _ in range(MAX_STEPS_PER_ARRIVAL):
            holder = self.stack[-1] if self.stack else None
            try:
                if task is None:
                    task = self._next_task(holder)
                if is_task_set(task):
                    self._enter(task, holder)
                    task = None
                    continue  # the same arrival runs a task of the set just entered
                self._execute(task, holder)
                return
            except InterruptTaskSet as exc:
                if holder is None:  # raised by a user-level task: nothing to leave
                    return
                self._leave()
                if not exc.reschedule:
                    return
            except RescheduleTaskImmediately:
                pass
            except RescheduleTask:
                return
            except StopUser:
                self.stop()
                raise UserStopped() from None
            task = None
        logger.debug("an arrival rescheduled %d times in a row; ending it", MAX_STEPS_PER_ARRIVAL)

    def stop(self) -> None:
        """The user ends: every entered set's on_stop (innermost first), then the user's."""
        while self.stack:
            self._leave()
        if self.started:
            self.started = False
            self.user.on_stop()

    # ------------------------------------------------------------------ internals
    def _next_task(self, holder: TaskSet | None) -> Any:
        if holder is None:  # left the last set and rescheduled: a user-level task again
            return self._pick()
        queue = holder._task_queue
        if queue:  # tasks the scenario queued itself with schedule_task
            return queue.popleft()
        return holder.get_next_task()

    def _enter(self, task_set: type[TaskSet], holder: TaskSet | None) -> None:
        instance = task_set(holder if holder is not None else self.user)
        self.stack.append(instance)
        try:
            instance.on_start()
        except InterruptTaskSet as exc:  # Locust: the set is not entered, the parent goes on
            self.stack.pop()
            raise (RescheduleTaskImmediately() if exc.reschedule else RescheduleTask()) from exc

    def _leave(self) -> None:
        instance = self.stack.pop()
        try:
            instance.on_stop()
        except Exception:  # as Locust: an on_stop failure is logged, leaving still happens
            logger.exception("on_stop of %s failed", type(instance).__name__)

    def _execute(self, task: Any, holder: TaskSet | None) -> None:
        if holder is None:
            task(self.user)
        elif getattr(task, "__self__", None) is holder:
            task()
        else:
            task(holder)


def task_name(task: Any) -> str:
    """A task's name in `scenario.mix`, logs and dropped records (function or set class)."""
    return getattr(task, "__name__", repr(task))


def defines_wait_time(user_class: type[User]) -> bool:
    """Whether the class (or a set it reaches) sets a ``wait_time`` the open model ignores."""
    seen: set[int] = set()

    def visit(holder: Any) -> bool:
        if id(holder) in seen:
            return False
        seen.add(id(holder))
        if getattr(holder, "wait_time", None) is not None and "wait_time" in _own_attrs(holder):
            return True
        return any(visit(t) for t in getattr(holder, "tasks", None) or [] if is_task_set(t))

    return visit(user_class)


def _own_attrs(cls: type) -> set[str]:
    """Attributes defined by `cls` or its bases below Locust's own User/TaskSet."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("locust."):
            break
        names.update(vars(klass))
    return names
