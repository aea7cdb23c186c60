"""`ShopConfig`: everything one shop process is told, validated once.

Failure modes are all off by default, so a bare `surge shop` is a fast, honest
target; each flag switches on one behaviour of the original serverless stack.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from surge.shop.credentials import DEFAULT_SEED, signing_key_for

__all__ = ["DEFAULT_SEED", "ShopConfig", "ShopConfigError"]
from surge.errors import UsageError
from surge.shop.latency import ServiceTime, StallPattern

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_USERS = 100
DEFAULT_PRODUCTS = 10
DEFAULT_STOCK = 1_000_000
DEFAULT_MAX_QUANTITY = 10
DEFAULT_CLIENT_ID = "surge-shop"
#: Cognito's default ID/access token lifetime
DEFAULT_TOKEN_TTL_S = 3600.0
#: Lambda reclaims idle execution environments after minutes; 10 min is a middle guess
DEFAULT_IDLE_TIMEOUT_S = 600.0
#: API Gateway's integration timeout: no answer takes longer than this in the original stack
API_GATEWAY_TIMEOUT_S = 29.0


class ShopConfigError(UsageError):
    """A shop setting that cannot work (negative capacity, zero users, ...)."""


@dataclass(frozen=True, kw_only=True)
class ShopConfig:
    """One shop process. Build it with keywords; `validated()` checks it at the boundary.

    Attributes:
        host, port: where to listen; port 0 picks a free port.
        users: how many seeded users (``user0001`` ...) can sign in.
        seed: derives the users' passwords and the token signing key.
        products, stock: catalogue size and the initial stock of each product.
        max_quantity: per-order limit; a larger quantity answers 400.
        write_capacity: writes/s per partition key (None: unlimited).
        write_burst: tokens a partition bucket holds (None: 0.1 s of capacity, at least 1).
        shards: partition keys per product (write sharding).
        write_retries: SDK-like retries of a throttled write before answering 500
            (the Node.js SDK v2 default for DynamoDB is 10).
        function_timeout_s: how long the buy function may keep retrying a throttled write
            before it answers 500 (None: only `write_retries` bound it). The original's
            limit was API Gateway's 29 s (`API_GATEWAY_TIMEOUT_S`); the demo scales it.
        cold_start_s: init delay of a new function instance (0: no instance model).
        idle_timeout_s: an idle instance goes cold after this long.
        concurrency_limit: concurrent instances over all functions (None: unlimited); 429 beyond.
        service_time: time each API request spends in its function.
        stall: hold pattern for accuracy tests (None: off).
        error_rate: fraction of API requests answered with a random 502.
        admin_key: secret for ``POST /admin/reset`` (header ``X-Admin-Key``).
        client_id: the Cognito app client id sign-in requests must name.
        token_ttl_s: lifetime of issued tokens.
        credentials_path: where the server writes the credentials file (None: don't).
        random_seed: seeds error injection and service times (None: fresh).
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    users: int = DEFAULT_USERS
    seed: str = DEFAULT_SEED
    products: int = DEFAULT_PRODUCTS
    stock: int = DEFAULT_STOCK
    max_quantity: int = DEFAULT_MAX_QUANTITY
    write_capacity: float | None = None
    write_burst: float | None = None
    shards: int = 1
    write_retries: int = 0
    function_timeout_s: float | None = None
    cold_start_s: float = 0.0
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    concurrency_limit: int | None = None
    service_time: ServiceTime = field(default_factory=ServiceTime)
    stall: StallPattern | None = None
    error_rate: float = 0.0
    admin_key: str = field(default_factory=lambda: secrets.token_hex(16))
    client_id: str = DEFAULT_CLIENT_ID
    token_ttl_s: float = DEFAULT_TOKEN_TTL_S
    credentials_path: Path | None = None
    random_seed: int | None = None

    @property
    def signing_key(self) -> bytes:
        return signing_key_for(self.seed)

    @property
    def uses_instances(self) -> bool:
        """Whether requests go through the Lambda-like instance pool at all."""
        return self.cold_start_s > 0 or self.concurrency_limit is not None

    def replace(self, **changes: object) -> ShopConfig:
        return dataclasses.replace(self, **changes)

    def validated(self) -> ShopConfig:
        """Return self, or raise `ShopConfigError` naming the first bad setting."""
        checks = [
            (0 <= self.port <= 65535, "--port", "must be between 0 and 65535"),
            (self.users >= 1, "--users", "must be at least 1"),
            (self.users <= 99_999, "--users", "must be at most 99999"),
            (self.products >= 1, "--products", "must be at least 1"),
            (self.stock >= 0, "--stock", "must not be negative"),
            (self.max_quantity >= 1, "--max-quantity", "must be at least 1"),
            (self.shards >= 1, "--shards", "must be at least 1"),
            (self.write_retries >= 0, "--write-retries", "must not be negative"),
            (self.cold_start_s >= 0, "--cold-start", "must not be negative"),
            (self.idle_timeout_s > 0, "--idle-timeout", "must be positive"),
            (0.0 <= self.error_rate <= 1.0, "--error-rate", "must lie between 0% and 100%"),
            (self.token_ttl_s > 0, "--token-ttl", "must be positive"),
            (bool(self.admin_key), "--admin-key", "must not be empty"),
            (bool(self.client_id), "--client-id", "must not be empty"),
        ]
        if self.write_capacity is not None:
            checks.append((self.write_capacity > 0, "--write-capacity", "must be positive"))
        if self.function_timeout_s is not None:
            checks.append((self.function_timeout_s > 0, "--function-timeout", "must be positive"))
        if self.write_burst is not None:
            checks.append((self.write_burst >= 1, "--write-burst", "must be at least 1"))
        if self.concurrency_limit is not None:
            checks.append((self.concurrency_limit >= 1, "--concurrency-limit", "must be >= 1"))
        for ok, flag, message in checks:
            if not ok:
                raise ShopConfigError(f"{flag} {message}", "surge shop")
        return self

    def failure_modes(self) -> list[str]:
        """Human-readable list of the behaviours switched on, for the start banner and /stats."""
        modes = []
        if self.write_capacity is not None:
            modes.append(
                f"write capacity {self.write_capacity:g}/s per key x {self.shards} keys,"
                f" {self.write_retries} retries"
                + (
                    f" within {self.function_timeout_s:g}s"
                    if self.function_timeout_s is not None
                    else ""
                )
            )
        if self.cold_start_s > 0:
            modes.append(f"cold start {self.cold_start_s * 1000:g}ms")
        if self.concurrency_limit is not None:
            modes.append(f"concurrency limit {self.concurrency_limit}")
        if not self.service_time.is_zero:
            modes.append(f"service time {self.service_time.describe()}")
        if self.stall is not None:
            modes.append(f"stall {self.stall.describe()}")
        if self.error_rate > 0:
            modes.append(f"error rate {self.error_rate:.2%}")
        return modes
