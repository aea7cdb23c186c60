"""ShopUser's request sequence in one process against the reference shop.

The engine-level test (test_shop_scenario.py) checks outcomes in the records; here one
user's requests are watched one by one through Locust's request event, which pins down
the sign-in rules: a refused token signs in again exactly once.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from locust.env import Environment

import surge.locustfiles.shop_user as scenario
from surge.locustfiles.shopper import TokenCache, shop_credentials
from tests.helpers.shop import running_shop

pytestmark = pytest.mark.integration

BUY = "POST /products/{id}/buy"


@pytest.fixture
def shop_user(monkeypatch):
    """A ShopUser of one shopper against a fresh shop, and the requests it reports."""
    with running_shop(users=1, stock=1000) as shop:
        monkeypatch.setenv("SURGE_SHOP_AUTH_URL", shop.auth_url)
        monkeypatch.setenv("SURGE_SHOP_CLIENT_ID", shop.client_id)
        monkeypatch.setenv("SURGE_SHOP_SEED", shop.seed)
        monkeypatch.setenv("SURGE_SHOP_USERS", "1")
        # the scenario keeps per-process state; start from none
        monkeypatch.setattr(scenario, "_SETTINGS", None)
        monkeypatch.setattr(scenario, "_TOKENS", TokenCache())
        monkeypatch.setattr(scenario, "CATALOG", scenario.Catalog())

        class Shopper(scenario.ShopUser):
            host = shop.url

        env = Environment(user_classes=[Shopper])
        reported: list[dict[str, Any]] = []
        env.events.request.add_listener(lambda **kw: reported.append(kw))
        user = Shopper(env)
        user.on_start()
        user.rng = random.Random(7)
        yield user, reported


def test_a_refused_token_signs_in_again_once_then_buys(shop_user):
    user, reported = shop_user
    shopper = shop_credentials.username(1)
    scenario._TOKENS.put(shopper, "a-token-the-shop-never-issued", 3600.0)
    user.buy()
    assert [r["name"] for r in reported] == [
        "GET /products (catalog)", BUY, "POST sign-in", BUY,
    ]  # fmt: skip
    refused, signed_in, bought = reported[1], reported[2], reported[3]
    assert refused["response"].status_code == 401 and refused["exception"] is not None
    assert signed_in["exception"] is None and bought["exception"] is None
    assert bought["response"].status_code == 200


def test_tokens_are_reused_across_buys(shop_user):
    user, reported = shop_user
    for _ in range(3):
        user.buy()
    names = [r["name"] for r in reported]
    assert names.count("POST sign-in") == 1 and names.count(BUY) == 3
    assert all(r["exception"] is None for r in reported)
