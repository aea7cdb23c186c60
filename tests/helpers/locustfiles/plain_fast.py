"""An ordinary locustfile, written the usual Locust way (closed model, wait_time)."""

from locust import FastHttpUser, between, task


class PlainUser(FastHttpUser):
    wait_time = between(1, 2)

    def on_start(self):
        self.client.get("/hello", name="on_start")

    @task(3)
    def index(self):
        self.client.get("/")

    @task(1)
    def item(self):
        self.client.get("/item/1", name="/item/[id]")

    def on_stop(self):
        self.client.get("/bye", name="on_stop")
