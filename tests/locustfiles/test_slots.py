"""The dispatcher with Locust's task model, in process: every arrival runs one task.

A real `Dispatcher` on gevent with a uniform schedule and a real `Recorder`; the
scenario's tasks make no HTTP request, they count. StopUser replaces the slot's user
(on_start again) and the offered arrivals are all served.
"""

from __future__ import annotations

import gevent
from locust import TaskSet, User, task
from locust.exception import StopUser

from tests.helpers.dispatchers import uniform_dispatcher

RATE, SECONDS = 200, 1.0
COUNTS = {"on_start": 0, "on_stop": 0, "tasks": 0, "set_entered": 0}


class Quitting(TaskSet):
    def on_start(self):
        COUNTS["set_entered"] += 1

    @task
    def work(self):
        COUNTS["tasks"] += 1
        self.user.done += 1
        if self.user.done % 3 == 0:
            raise StopUser()


class Worker(User):
    tasks = [Quitting]

    def __init__(self, environment):
        super().__init__(environment)
        self.done = 0

    def on_start(self):
        COUNTS["on_start"] += 1

    def on_stop(self):
        COUNTS["on_stop"] += 1


def test_every_arrival_runs_one_task_and_stop_user_replaces_the_user(tmp_path):
    dispatcher = uniform_dispatcher(
        tmp_path, Worker, rps=RATE, seconds=SECONDS, lead_s=0.2,
        max_in_flight=10, timeout_s=5.0, hard_end_s=60,
    )  # fmt: skip
    dispatcher.start()
    gevent.sleep(0.2 + SECONDS + 0.3)
    dispatcher.stop(keep_backlog=True)
    dispatcher.drain(2.0)
    assert COUNTS["tasks"] == RATE * SECONDS  # one task per arrival, none lost
    stopped = COUNTS["tasks"] // 3
    # every third task stops its user: a fresh one (on_start again) takes the next arrival
    assert COUNTS["on_start"] >= stopped and COUNTS["set_entered"] >= stopped
    assert COUNTS["on_stop"] == COUNTS["on_start"]  # stopped ones and, at the end, the rest
