"""What one arrival runs (`locustfiles.tasks`): Locust's task model, one task per arrival.

In-process: user classes whose tasks append to a log, a `SlotTasks` per "slot", and
arrivals run one after another; the processes-and-schedule view is `test_corpus`.
"""

from __future__ import annotations

import random

import pytest
from locust import SequentialTaskSet, TaskSet, User, tag, task
from locust.env import Environment
from locust.exception import RescheduleTask, StopUser

from surge.errors import ScheduleError
from surge.locustfiles.dispatcher import TaskPicker
from surge.locustfiles.tasks import SlotTasks, UserStopped, defines_wait_time

LOG: list[str] = []


class Checkout(SequentialTaskSet):
    def on_start(self):
        LOG.append("checkout.on_start")

    @task
    def cart(self):
        LOG.append("cart")

    @task
    def pay(self):
        LOG.append("pay")

    @task
    def done(self):
        LOG.append("done")
        self.interrupt(reschedule=False)

    def on_stop(self):
        LOG.append("checkout.on_stop")


class Browse(TaskSet):
    def on_start(self):
        LOG.append("browse.on_start")

    @task
    def look(self):
        LOG.append("look")

    def on_stop(self):
        LOG.append("browse.on_stop")


class Shopper(User):
    tasks = {Checkout: 1}

    def on_start(self):
        LOG.append("user.on_start")

    def on_stop(self):
        LOG.append("user.on_stop")


def slot(user_class: type[User], pick=None) -> SlotTasks:
    LOG.clear()
    user = user_class(Environment(user_classes=[user_class]))
    picker = TaskPicker(user_class, {})
    rng = random.Random(1)
    return SlotTasks(user, pick or (lambda: picker.pick(rng)))


def test_a_sequential_task_set_runs_the_slots_next_task_per_arrival():
    s = slot(Shopper)
    for _ in range(4):
        s.run(Checkout)
    assert LOG == ["user.on_start", "checkout.on_start", "cart", "pay", "done",
                   "checkout.on_stop", "checkout.on_start", "cart"]  # fmt: skip


def test_interrupt_with_reschedule_runs_the_parents_next_task_in_the_same_arrival():
    class Inner(TaskSet):
        @task
        def leave(self):
            LOG.append("leave")
            self.interrupt()  # reschedule=True: the parent goes on at once

    class Outer(TaskSet):
        tasks = [Inner]

    class Outer2(Outer):
        @task
        def nothing(self):
            LOG.append("outer task")

    class U(User):
        tasks = [Outer2]

    s = slot(U)
    random.seed(3)
    for _ in range(6):
        s.run(Outer2)
    # every arrival ends with exactly one task that did not interrupt
    assert LOG.count("outer task") == 6
    assert len(s.stack) == 1 and isinstance(s.stack[0], Outer2)


def test_nested_sets_are_entered_with_on_start_and_left_with_on_stop_at_the_end():
    class Nest(TaskSet):
        tasks = [Browse]

    class U(User):
        tasks = [Nest]

        def on_stop(self):
            LOG.append("user.on_stop")

    s = slot(U)
    s.run(Nest)
    s.run(Nest)
    assert LOG == ["browse.on_start", "look", "look"]
    s.stop()
    assert LOG[-2:] == ["browse.on_stop", "user.on_stop"] and s.stack == []


def test_stop_user_ends_the_user_with_its_on_stops_and_says_so():
    class Quit(TaskSet):
        @task
        def quit(self):
            raise StopUser()

        def on_stop(self):
            LOG.append("quit.on_stop")

    class U(User):
        tasks = [Quit]

        def on_stop(self):
            LOG.append("user.on_stop")

    s = slot(U)
    with pytest.raises(UserStopped):
        s.run(Quit)
    assert LOG == ["quit.on_stop", "user.on_stop"] and s.stack == [] and not s.started


def test_reschedule_task_ends_the_arrival_and_queued_tasks_come_first():
    class Q(TaskSet):
        @task
        def first(self):
            LOG.append("first")
            self.schedule_task(self.queued)
            raise RescheduleTask()

        def queued(self):
            LOG.append("queued")

    class U(User):
        tasks = [Q]

    s = slot(U)
    s.run(Q)
    s.run(Q)
    assert LOG == ["first", "queued"]


def test_user_level_weights_and_mix_pick_task_sets_and_functions():
    class U(User):
        tasks = {Browse: 3}

        @task(1)
        def direct(self):
            LOG.append("direct")

    picker = TaskPicker(U, {})
    rng = random.Random(7)
    picks = [picker.pick(rng) for _ in range(4000)]
    assert 0.70 < picks.count(Browse) / len(picks) < 0.80  # weight 3 of 4
    only_direct = TaskPicker(U, {"direct": 1, "Browse": 0})
    assert {only_direct.pick(rng) for _ in range(50)} == {U.direct}
    with pytest.raises(ScheduleError, match="nope is not a task of U"):
        TaskPicker(U, {"nope": 1})


def test_tags_filter_nested_sets_like_locusts_own_option():
    from locust.user.task import filter_tasks_by_tags

    class Tagged(TaskSet):
        @tag("a")
        @task
        def kept(self):
            pass

        @tag("b")
        @task
        def dropped(self):
            pass

    class U(User):
        tasks = [Tagged]

    filter_tasks_by_tags(U, {"a"}, None)
    assert [t.__name__ for t in Tagged.tasks] == ["kept"]


def test_wait_time_is_noticed_only_when_the_scenario_sets_one():
    from locust import between

    class Waits(User):
        wait_time = between(1, 2)

        @task
        def t(self):
            pass

    class InSet(TaskSet):
        wait_time = between(1, 2)

        @task
        def t(self):
            pass

    class Nested(User):
        tasks = [InSet]

    assert defines_wait_time(Waits) and defines_wait_time(Nested)
    assert not defines_wait_time(Shopper)


def test_a_markov_task_set_takes_one_transition_per_arrival():
    from locust import MarkovTaskSet, transition

    class Chain(MarkovTaskSet):
        @transition("b")
        def a(self):
            LOG.append("a")

        @transition("a")
        def b(self):
            LOG.append("b")

    class U(User):
        tasks = [Chain]

    s = slot(U)
    for _ in range(4):
        s.run(Chain)
    assert LOG == ["a", "b", "a", "b"]
