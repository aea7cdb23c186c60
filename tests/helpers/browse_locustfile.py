"""A plain Locust scenario for runs tests: browse the shop's products (no sign-in).

Written in ordinary Locust style on purpose: the engine runs one task per arrival.
"""

from locust import FastHttpUser, task


class BrowseUser(FastHttpUser):
    @task
    def browse(self) -> None:
        self.client.get("/products", name="GET /products")
