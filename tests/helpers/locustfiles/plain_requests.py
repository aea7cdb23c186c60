"""An ordinary locustfile on HttpUser (requests), no wait_time."""

from locust import HttpUser, task


class RequestsUser(HttpUser):
    @task
    def index(self):
        self.client.get("/")
