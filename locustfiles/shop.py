"""The reference scenario: shoppers sign in (Cognito-shaped), browse, and buy.

Tasks ``browse`` (list products, look at one) and ``buy`` (a random product and
quantity, with the shopper's token). Outcomes: 2xx ok; 409 sold out ``rejected`` (a
valid answer); 401 signs in again once; 429, 5xx and connection errors ``error``;
timeouts ``timeout``. Tokens are cached per simulated shopper and refreshed before
they expire; sign-ins pass a per-process token bucket so thousands of shoppers do not
stampede the identity provider. Requests go only to the schedule's allow_hosts.
"""

from __future__ import annotations

import json
import random

import gevent
from gevent.event import Event
from locust import FastHttpUser, task

from locustfiles.context import mark_outcome
from locustfiles.guard import HostNotAllowedError, host_allowed
from locustfiles.shopper import (
    INITIATE_AUTH_TARGET,
    REJECTED,
    ShopSettings,
    TokenBucket,
    TokenCache,
    pick_shopper,
    shop_credentials,
)

MAX_QUANTITY = 3
_TOKENS = TokenCache()
_SIGN_INS: TokenBucket | None = None
_SETTINGS: ShopSettings | None = None
#: shoppers being signed in right now: other slots wait for that token instead of signing in
_SIGNING_IN: dict[str, Event] = {}
SIGN_IN_WAIT_S = 30.0  # without a schedule (plain Locust), how long to wait for that sign-in


class ShopUser(FastHttpUser):
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
        self.products: list[str] = []

    # ------------------------------------------------------------------ tasks
    @task(7)
    def browse(self) -> None:
        with self.client.get("/products", name="GET /products", catch_response=True) as r:
            if r.status_code == 200:
                self.products = [str(p["id"]) for p in r.json().get("products", [])]
        if self.products:
            pid = self.rng.choice(self.products)
            self.client.get(f"/products/{pid}", name="GET /products/{id}")

    @task(3)
    def buy(self) -> None:
        if not self.products:
            self.products = [str(i) for i in range(1, 11)]
        shopper = shop_credentials().username(pick_shopper(self.rng, self.settings.users))
        pid = self.rng.choice(self.products)
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
        pending = _SIGNING_IN.get(shopper)
        if pending is not None:  # another slot is signing this shopper in: share its token
            pending.wait(self._sign_in_wait_s())
            return _TOKENS.valid(shopper)
        done = _SIGNING_IN[shopper] = Event()
        try:
            return self._sign_in(shopper)
        finally:
            del _SIGNING_IN[shopper]
            done.set()

    def _sign_in_wait_s(self) -> float:
        schedule = getattr(self, "surge_schedule", None)
        return schedule.limits.timeout_s if schedule else SIGN_IN_WAIT_S

    def _sign_in(self, shopper: str) -> str | None:
        assert _SIGN_INS is not None
        _SIGN_INS.take(sleep=gevent.sleep)
        creds = shop_credentials()
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
