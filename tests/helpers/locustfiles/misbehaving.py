"""User classes that test the engine's guards; a schedule picks one with scenario.user."""

from locust import FastHttpUser, HttpUser, task


class ElsewhereUser(FastHttpUser):
    """Asks for a host outside allow_hosts (localhost is the target's address by another name)."""

    @task
    def elsewhere(self):
        self.client.get(self.host.replace("127.0.0.1", "localhost") + "/elsewhere")


class SlowRequestsUser(HttpUser):
    """HttpUser (requests) against a 3 s response: only the schedule's timeout ends it early."""

    @task
    def slow(self):
        self.client.get("/sleep/3000")


class SlowUser(FastHttpUser):
    """Every answer takes 100 ms: a p95 rule of 20 ms fails from the first second."""

    @task
    def slow(self):
        self.client.get("/sleep/100")
