"""One request name, two methods: GET is fast, POST is slow (for per-endpoint rules that
must tell ``GET /x`` from ``POST /x``, as the report does)."""

from locust import FastHttpUser, task


class SameNameUser(FastHttpUser):
    """Three fast reads for each slow (1 s) write, all named ``/x``."""

    @task(3)
    def read(self):
        self.client.get("/ok", name="/x")

    @task(1)
    def write(self):
        self.client.post("/sleep/1000", name="/x")
