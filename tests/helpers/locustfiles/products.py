"""One GET /products per arrival: the cheapest request the reference shop answers."""

from locust import FastHttpUser, task


class ProductsUser(FastHttpUser):
    @task
    def products(self):
        self.client.get("/products")
