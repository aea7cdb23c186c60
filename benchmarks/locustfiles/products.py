"""The benchmark scenario: one GET /products per task, written the ordinary Locust way.

The same classes serve plain Locust (closed model) and surge (open model, one task per
arrival), so both pay for exactly the same request code.
"""

import functools

import gevent.ssl
from locust import FastHttpUser, HttpUser, constant_throughput, task
from locust.contrib.fasthttp import insecure_ssl_context_factory

from locustfiles.client import SurgeHttpUser

#: requests per second per user in the closed-model comparison (benchmark 3)
PACED_RPS_PER_USER = 10


@functools.cache
def shared_tls_context(cafile: str | None = None) -> gevent.ssl.SSLContext:
    """One unverified client TLS context for every user of the process.

    The HTTPS endpoint is a loopback nginx with a self-signed certificate, so nothing is
    verified (FastHttpUser's default, insecure=True). Left to geventhttpclient, every
    user (every surge slot) builds its own context and loads certifi's CA bundle into
    it although it is never used: ~40 ms of CPU per slot, so the 50 slots of a cold
    process stall it for 2 s, the first step of the HTTPS staircase drops arrivals and
    no capacity is found. Plain-HTTP runs never build a context.
    """
    return insecure_ssl_context_factory()


class FastProducts(FastHttpUser):
    """geventhttpclient, no wait: as fast as one user can go."""

    ssl_context_factory = staticmethod(shared_tls_context)

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
