"""The reference scenario: shoppers sign in (Cognito-shaped), browse, and buy.

Every arrival makes exactly ONE API request, so the achieved rate of a run equals the
offered one: ``browse`` is one GET (the product list, or one product), ``buy`` is one
POST (a random product and quantity, with the shopper's token). The extra requests are
those a real client also makes now and then, each under its own name:

- ``POST sign-in``: a shopper without a valid token signs in first. Tokens are cached
  per simulated shopper and refreshed before they expire; sign-ins pass a per-process
  token bucket so thousands of shoppers do not stampede the identity provider.
- ``GET /products (catalog)``: the product ids buys and product views choose from are
  one list per process (`Catalog`), loaded with ``GET /products`` on first use and again
  once it is older than `CATALOG_MAX_AGE_S`; every browse of the list refreshes it for
  free. Product ids are never guessed.

Outcomes: 2xx ok; 409 sold out ``rejected`` (a valid answer); 401 signs in again once;
429, 5xx and connection errors ``error``; timeouts ``timeout``. Requests go only to the
schedule's allow_hosts. The client is surge's own (`locustfiles.client`): the same
interface as FastHttpUser's at well under half its CPU per request.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Hashable
from typing import Any

import gevent
from gevent.event import Event
from locust import task

from surge.locustfiles.client import SurgeHttpUser
from surge.locustfiles.context import mark_outcome
from surge.locustfiles.guard import HostNotAllowedError, host_allowed
from surge.locustfiles.shopper import (
    INITIATE_AUTH_TARGET,
    REJECTED,
    ShopSettings,
    TokenBucket,
    TokenCache,
    pick_shopper,
    shop_credentials,
)

MAX_QUANTITY = 3
CATALOG_MAX_AGE_S = 30.0  # a product list older than this is loaded again before use
LIST_SHARE = 0.5  # of browse arrivals, the share that views the list (the rest: one product)
_TOKENS = TokenCache()
_SIGN_INS: TokenBucket | None = None
_SETTINGS: ShopSettings | None = None
SIGN_IN_WAIT_S = 30.0  # without a schedule (plain Locust), how long to wait for that sign-in


class SingleFlight:
    """One slot does a piece of work per key; slots asking meanwhile wait for it instead
    of sending the same request again (a sign-in per shopper, the catalog load)."""

    def __init__(self) -> None:
        self._running: dict[Hashable, Event] = {}

    def run(self, key: Hashable, work: Callable[[], Any], wait_s: float) -> Any:
        """`work()`'s result, or None after waiting up to `wait_s` for another slot's."""
        pending = self._running.get(key)
        if pending is not None:
            pending.wait(wait_s)
            return None
        done = self._running[key] = Event()
        try:
            return work()
        finally:
            del self._running[key]
            done.set()


#: sign-ins and catalog loads in progress: other slots wait for them instead of repeating
_IN_FLIGHT = SingleFlight()


class Catalog:
    """The shop's product ids, one list per process, shared by every slot.

    Only one slot loads it at a time; the others wait for that load instead of sending
    their own (or guessing ids).
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.loaded_at = -CATALOG_MAX_AGE_S  # monotonic

    def stale(self) -> bool:
        return time.monotonic() - self.loaded_at > CATALOG_MAX_AGE_S

    def update(self, body: Any) -> None:
        """Take the ids from a ``GET /products`` answer."""
        self.ids = [str(p["id"]) for p in body.get("products", [])]
        self.loaded_at = time.monotonic()

    def ensure(self, client: Any, wait_s: float) -> list[str]:
        """The current ids, loading them first if they are missing or stale."""
        if self.stale():
            _IN_FLIGHT.run(("catalog",), lambda: self._load(client), wait_s)
        return self.ids

    def _load(self, client: Any) -> None:
        with client.get("/products", name="GET /products (catalog)", catch_response=True) as r:
            if r.status_code == 200:
                self.update(r.json())


CATALOG = Catalog()


class ShopUser(SurgeHttpUser):
    """One slot of the open-model engine; each arrival is a fresh random shopper."""

    abstract = False

    def on_start(self) -> None:
        global _SIGN_INS, _SETTINGS
        if _SETTINGS is None:
            _SETTINGS = ShopSettings.from_env(self.host)
            _SIGN_INS = TokenBucket(_SETTINGS.sign_ins_per_s)
        schedule = getattr(self, "surge_schedule", None)
        allow = schedule.allow_hosts if schedule else ()
        if allow and not host_allowed(_SETTINGS.auth_url, allow):
            raise HostNotAllowedError(
                f"auth URL {_SETTINGS.auth_url} is not in allow_hosts ({', '.join(allow)})",
                "SURGE_SHOP_AUTH_URL",
            )
        self.settings = _SETTINGS
        self.rng = random.Random()

    # ------------------------------------------------------------------ tasks
    @task(7)
    def browse(self) -> None:
        """One GET: the product list (which refreshes the catalog) or one product."""
        ids = CATALOG.ids if not CATALOG.stale() else []
        if not ids or self.rng.random() < LIST_SHARE:
            with self.client.get("/products", name="GET /products", catch_response=True) as r:
                if r.status_code == 200:
                    CATALOG.update(r.json())
            return
        self.client.get(f"/products/{self.rng.choice(ids)}", name="GET /products/{id}")

    @task(3)
    def buy(self) -> None:
        """One POST of a random product and quantity (after a sign-in, if one is due)."""
        ids = CATALOG.ensure(self.client, self._wait_s())
        if not ids:
            return  # the catalog failed to load; that request is recorded as the error
        shopper = shop_credentials.username(pick_shopper(self.rng, self.settings.users))
        pid = self.rng.choice(ids)
        body = {"quantity": self.rng.randint(1, MAX_QUANTITY)}
        for attempt in range(2):  # a 401 signs in again, once
            token = self._token(shopper)
            if token is None:
                return
            with self.client.post(
                f"/products/{pid}/buy", json=body, name="POST /products/{id}/buy",
                headers={"Authorization": f"Bearer {token}"}, catch_response=True,
            ) as r:  # fmt: skip
                if r.status_code == 409:
                    mark_outcome(REJECTED)
                    r.success()
                elif r.status_code == 401 and attempt == 0:
                    _TOKENS.forget(shopper)
                    r.failure("401: token refused; signing in again")
                    continue
            return

    # ------------------------------------------------------------------ sign-in
    def _token(self, shopper: str) -> str | None:
        token = _TOKENS.valid(shopper)
        if token is not None:
            return token
        # a slot already signing this shopper in shares its token
        signed_in = _IN_FLIGHT.run(
            ("sign-in", shopper), lambda: self._sign_in(shopper), self._wait_s()
        )
        return signed_in if signed_in is not None else _TOKENS.valid(shopper)

    def _wait_s(self) -> float:
        """How long to wait for another slot's sign-in or catalog load."""
        schedule = getattr(self, "surge_schedule", None)
        return schedule.limits.timeout_s if schedule else SIGN_IN_WAIT_S

    def _sign_in(self, shopper: str) -> str | None:
        assert _SIGN_INS is not None
        _SIGN_INS.take(sleep=gevent.sleep)
        creds = shop_credentials
        payload = {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": self.settings.client_id,
            "AuthParameters": {
                "USERNAME": shopper,
                "PASSWORD": creds.password_for(shopper, self.settings.seed),
            },
        }
        headers = {
            "X-Amz-Target": INITIATE_AUTH_TARGET,
            "Content-Type": "application/x-amz-json-1.1",
        }
        with self.client.post(
            self.settings.auth_url, data=json.dumps(payload), headers=headers,
            name="POST sign-in", catch_response=True,
        ) as r:  # fmt: skip
            if r.status_code != 200:
                r.failure(f"sign-in failed: {r.status_code}")
                return None
            result = r.json()["AuthenticationResult"]
        _TOKENS.put(shopper, result["IdToken"], float(result.get("ExpiresIn", 3600)))
        return result["IdToken"]
