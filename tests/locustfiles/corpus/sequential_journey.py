"""A SequentialTaskSet journey: home, search, add to cart, checkout, in this order."""

from locust import HttpUser, SequentialTaskSet, task


class Journey(SequentialTaskSet):
    @task
    def home(self):
        self.client.get("/api/home", name="1 home")

    @task
    def search(self):
        self.client.get("/api/search", params={"q": "shoes", "page": None}, name="2 search")

    @task
    def add_to_cart(self):
        self.client.post("/api/cart", json={"sku": "s1", "qty": 1}, name="3 cart")

    @task
    def checkout(self):
        with self.client.post(
            "/api/checkout", data={"pay": "card"}, name="4 checkout", catch_response=True
        ) as response:
            if response.json()["body"] != "pay=card":
                response.failure("the form body did not arrive")


class Shopper(HttpUser):
    tasks = [Journey]
