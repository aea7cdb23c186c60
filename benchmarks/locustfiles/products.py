"""The benchmark scenario: one GET /products per task, written the ordinary Locust way.

The same classes serve plain Locust (closed model) and surge (open model, one task per
arrival), so both pay for exactly the same request code. Under surge every class here
shares one TLS context per process (`locustfiles.client.shared_tls_context`).
"""

from locust import FastHttpUser, HttpUser, constant_throughput, task

from surge.locustfiles.client import SurgeHttpUser

#: requests per second per user in the closed-model comparison (benchmark 3)
PACED_RPS_PER_USER = 10


class FastProducts(FastHttpUser):
    """geventhttpclient, no wait: as fast as one user can go."""

    @task
    def products(self) -> None:
        self.client.get("/products")


class SurgeProducts(SurgeHttpUser):
    """surge's own client (`locustfiles.client`), no wait."""

    @task
    def products(self) -> None:
        self.client.get("/products")


class HttpProducts(HttpUser):
    """python-requests, no wait."""

    @task
    def products(self) -> None:
        self.client.get("/products")


class PacedProducts(FastHttpUser):
    """Locust's closest thing to a fixed rate: constant_throughput per user."""

    wait_time = constant_throughput(PACED_RPS_PER_USER)

    @task
    def products(self) -> None:
        self.client.get("/products")
