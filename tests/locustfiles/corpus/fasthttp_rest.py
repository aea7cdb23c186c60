"""FastHttpUser's rest() helper with asserts on the parsed JSON, as in Locust's docs."""

from locust import FastHttpUser, constant_throughput, task


class RestUser(FastHttpUser):
    host = "https://api.example.com"  # the schedule's target wins
    wait_time = constant_throughput(1)

    @task
    def create_order(self):
        with self.rest("POST", "/api/orders", json={"sku": "s1"}) as resp:
            assert resp.js["ok"] is True, "the API refused the order"
            assert resp.js["method"] == "POST"

    @task
    def read_order(self):
        with self.rest("GET", "/api/orders/1", name="/api/orders/[id]") as resp:
            if resp.js is None or resp.js["path"] != "/api/orders/1":
                resp.failure("wrong order")
