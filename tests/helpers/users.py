"""The smallest User classes of each kind, for tests that prepare or drive a class and
do not care what its task does (the engine decides what runs, per schedule)."""

from __future__ import annotations

from locust import FastHttpUser, HttpUser, task

from surge.locustfiles.client import SurgeHttpUser


class Fast(FastHttpUser):
    @task
    def t(self) -> None:
        pass


class Requests(HttpUser):
    @task
    def t(self) -> None:
        pass


class Surge(SurgeHttpUser):
    @task
    def t(self) -> None:
        pass
