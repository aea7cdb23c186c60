"""One GET per arrival, the cheapest scenario: for rate, stall and recording tests."""

from locust import FastHttpUser, task


class GetUser(FastHttpUser):
    @task
    def get(self):
        self.client.get("/")
