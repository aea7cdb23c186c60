"""Locust's documented TaskSet style: the User's tasks are a TaskSet that logs in on start."""

from locust import HttpUser, TaskSet, between, task


class ShopTasks(TaskSet):
    def on_start(self):
        response = self.client.post("/api/login", json={"user": "ann", "password": "pw"})
        self.client.headers["Authorization"] = f"Bearer {response.json()['token']}"

    @task(3)
    def browse(self):
        self.client.get("/api/secure/products", name="products")

    @task(1)
    def item(self):
        self.client.get("/api/secure/products/7", name="product")


class ShopUser(HttpUser):
    tasks = [ShopTasks]
    wait_time = between(1, 3)
