"""The shop scenario's logic: Cognito-shaped sign-in, token cache, sign-in rate limit.

Kept apart from the locustfile ``locustfiles/shop_user.py`` so that its parts can be
tested without Locust importing a User class.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass

from surge.results import Outcome
from surge.shop import credentials as shop_credentials

INITIATE_AUTH_TARGET = "AWSCognitoIdentityProviderService.InitiateAuth"
REFRESH_MARGIN_S = 60.0  # refresh a token this long before it expires
DEFAULT_SIGN_INS_PER_S = 100.0  # Cognito's InitiateAuth quota is of this order per account
DEFAULT_USERS = 100
DEFAULT_CLIENT_ID = "surge-shop"


@dataclass(frozen=True)
class ShopSettings:
    """Where and as whom the scenario signs in (environment variables, defaults for `surge shop`).

    SURGE_SHOP_AUTH_URL (default: <target>/auth/), SURGE_SHOP_CLIENT_ID, SURGE_SHOP_SEED,
    SURGE_SHOP_USERS, SURGE_SHOP_SIGN_INS_PER_S (per worker process).
    """

    auth_url: str
    client_id: str
    seed: str
    users: int
    sign_ins_per_s: float

    @classmethod
    def from_env(cls, target: str) -> ShopSettings:
        creds = shop_credentials
        return cls(
            auth_url=os.environ.get("SURGE_SHOP_AUTH_URL", target.rstrip("/") + "/auth/"),
            client_id=os.environ.get("SURGE_SHOP_CLIENT_ID", DEFAULT_CLIENT_ID),
            seed=os.environ.get("SURGE_SHOP_SEED", creds.DEFAULT_SEED),
            users=int(os.environ.get("SURGE_SHOP_USERS", DEFAULT_USERS)),
            sign_ins_per_s=float(
                os.environ.get("SURGE_SHOP_SIGN_INS_PER_S", DEFAULT_SIGN_INS_PER_S)
            ),
        )


class TokenBucket:
    """Sign-ins per second with a small burst; `take` sleeps (gevent-friendly) until allowed."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 10.0)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def wait_time(self) -> float:
        """Take a token now if there is one (0.0), else how long until there is one."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self, sleep=time.sleep) -> None:
        while (delay := self.wait_time()) > 0:
            sleep(delay)


@dataclass
class Token:
    id_token: str
    expires_at: float  # monotonic


class TokenCache:
    """One token per simulated shopper, shared by all slots of a worker process."""

    def __init__(self) -> None:
        self.tokens: dict[str, Token] = {}

    def valid(self, user: str) -> str | None:
        tok = self.tokens.get(user)
        if tok is None or time.monotonic() > tok.expires_at - REFRESH_MARGIN_S:
            return None
        return tok.id_token

    def put(self, user: str, id_token: str, expires_in: float) -> None:
        self.tokens[user] = Token(id_token, time.monotonic() + expires_in)

    def forget(self, user: str) -> None:
        self.tokens.pop(user, None)


def pick_shopper(rng: random.Random, users: int) -> int:
    return rng.randint(1, users)


REJECTED = Outcome.REJECTED
