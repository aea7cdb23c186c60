"""The shop scenario against the reference shop: sign-in, tokens, outcomes, mix."""

from __future__ import annotations

import os

import pytest

from surge.provisioning.local import run_local
from tests.helpers.locust import requests_of, write_schedule
from tests.helpers.shop import running_shop

pytestmark = pytest.mark.integration


def test_shoppers_sign_in_once_browse_and_buy_with_sold_out_as_rejected(tmp_path, monkeypatch):
    with running_shop(users=5, stock=40) as shop:
        monkeypatch.setenv("SURGE_SHOP_AUTH_URL", shop.auth_url)
        monkeypatch.setenv("SURGE_SHOP_CLIENT_ID", shop.client_id)
        monkeypatch.setenv("SURGE_SHOP_SEED", shop.seed)
        monkeypatch.setenv("SURGE_SHOP_USERS", "5")
        schedule = write_schedule(
            tmp_path / "s.yaml", target=shop.url, locustfile="locustfiles/shop_user.py",
            user="ShopUser", stages="{rps: 40, duration: 4s}",
        )  # fmt: skip
        mix = "  user: ShopUser\n  mix: {browse: 1, buy: 1}\n"
        schedule.write_text(schedule.read_text().replace("  user: ShopUser\n", mix))
        result = run_local(schedule, tmp_path / "run", workers=0, run_id="shop")
    assert result.exit_code in (0, 3), (tmp_path / "run" / "logs" / "master.log").read_text()[
        -3000:
    ]
    df = requests_of(tmp_path / "run")
    names = df.name.value_counts().to_dict()
    assert names.get("POST sign-in", 0) <= 5  # tokens cached per shopper
    buys = df[df.name == "POST /products/{id}/buy"]
    assert len(buys) > 40
    # 10 products x 40 in stock, 1-3 per order: stock runs out, sold out is a valid answer
    assert set(buys.outcome) <= {"ok", "rejected"}
    assert (buys[buys.status == 409].outcome == "rejected").all()
    assert (df[df.name == "GET /products"].outcome == "ok").all()
    assert os.path.exists(tmp_path / "run" / "manifest.json")
