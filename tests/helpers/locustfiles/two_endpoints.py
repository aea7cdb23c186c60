"""Two endpoints, one failing: for thresholds scoped to one endpoint."""

from locust import FastHttpUser, task


class TwoEndpointsUser(FastHttpUser):
    """A quarter of the requests go to an endpoint that always answers 503."""

    @task(1)
    def unavailable(self):
        self.client.get("/status/503", name="/unavailable")

    @task(3)
    def fine(self):
        self.client.get("/ok", name="GET /ok")
