"""`surge shop` as a real server: wiring, sign-in, concurrency, throttling, stall, signals."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from surge.shop.credentials import password_for
from tests.helpers.shop import REPO_ROOT, ShopClient, running_shop, start_shop

pytestmark = pytest.mark.integration

#: how long the throttling tests offer load; longer dilutes the burst and scheduling noise
THROTTLE_WINDOW_S = 2.0
HAMMER_THREADS = 6
#: offered load in multiples of the capacity under test
OVERLOAD = 3
#: scheduling slack allowed on a busy 2-core machine (well below the 0.5 s hold)
SLACK_S = 0.4


@pytest.fixture(scope="module")
def shop():
    with running_shop(users=5, products=3, stock=1000) as handle:
        yield handle


@pytest.fixture
def client(shop):
    shop.reset()
    c = ShopClient(shop.url)
    yield c
    c.close()


def test_every_route_over_http(shop, client):
    assert client.get("/products").status == 200
    assert client.get("/products/2").json["id"] == "2"
    assert client.get("/products/9").status == 404
    token = client.sign_in(shop, "user0005")
    assert client.post("/products/1/buy", {"quantity": 2}, token=token).status == 200
    assert client.post("/products/1/buy", {"quantity": 2}).status == 401
    assert client.post("/products/1/buy", {"quantity": 0}, token=token).status == 400
    assert client.post("/products/1/buy", {"quantity": 5000}, token=token).status == 400
    assert client.post("/products/9/buy", {"quantity": 1}, token=token).status == 404
    assert client.post("/admin/reset", {}).status == 403
    stats = shop.stats()
    assert stats["orders"] == 1 and stats["stock"]["1"] == 998
    assert stats["requests"]["POST /products/{id}/buy"] == {"200": 1, "400": 2, "401": 1, "404": 1}


def test_sign_in_at_the_root_and_with_bad_credentials(shop, client):
    reply = client.initiate_auth("user0001", shop.password("user0001"), path="/")
    assert reply.status == 200 and "IdToken" in reply.json["AuthenticationResult"]
    reply = client.initiate_auth("user0001", "wrong")
    assert (reply.status, reply.json["__type"]) == (400, "NotAuthorizedException")


def test_credentials_file_lists_every_user(shop):
    document = json.loads(shop.credentials.read_text())
    assert document["auth_url"] == shop.auth_url and document["client_id"] == "surge-shop"
    assert [u["username"] for u in document["users"]] == [f"user000{i}" for i in range(1, 6)]
    assert all(u["password"] == password_for(u["username"]) for u in document["users"])
    assert shop.credentials.stat().st_mode & 0o077 == 0


def test_expired_tokens_are_refused_over_http():
    with running_shop(users=1, token_ttl="1s") as shop:
        client = ShopClient(shop.url)
        token = client.sign_in(shop)
        assert client.post("/products/1/buy", {"quantity": 1}, token=token).status == 200
        time.sleep(1.1)
        assert client.post("/products/1/buy", {"quantity": 1}, token=token).status == 401
        assert shop.stats()["token_rejections"] == {"expired": 1}


def test_parallel_buys_on_one_product_never_oversell(shop):
    shop.reset(stock=300)
    token = ShopClient(shop.url).sign_in(shop)
    bought: list[int] = []
    statuses: list[int] = []

    def buyer(seed: int) -> None:
        client, rng = ShopClient(shop.url), random.Random(seed)
        for _ in range(40):
            quantity = rng.randint(1, 3)
            status = client.post("/products/2/buy", {"quantity": quantity}, token=token).status
            statuses.append(status)
            if status == 200:
                bought.append(quantity)

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = shop.stats()
    assert set(statuses) <= {200, 409} and 409 in statuses
    assert sum(bought) == 300 - stats["stock"]["2"] == stats["units_sold"]
    assert len(bought) == stats["orders"]
    assert 0 <= stats["stock"]["2"] < 3


def _offer_buys(shop, rate: float, seconds: float) -> tuple[int, float]:
    """Offer ``rate`` buys/s (paced, over a few threads) for ``seconds``.

    Paced rather than flat out, so the client does not starve the shop of CPU
    on a busy machine. Returns (accepted, measured window in seconds).
    """
    token = ShopClient(shop.url).sign_in(shop)
    accepted: list[int] = []
    interval = HAMMER_THREADS / rate
    start = time.monotonic()
    deadline = start + seconds

    def worker(offset: float) -> None:
        client, ok, due = ShopClient(shop.url), 0, start + offset
        while due < deadline:
            time.sleep(max(0.0, due - time.monotonic()))
            status = client.post("/products/1/buy", {"quantity": 1}, token=token).status
            assert status in (200, 500)
            ok += status == 200
            due += interval
        accepted.append(ok)

    threads = [
        threading.Thread(target=worker, args=(i * interval / HAMMER_THREADS,))
        for i in range(HAMMER_THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(accepted), time.monotonic() - start


@pytest.mark.parametrize(("shards", "capacity"), [(1, 100), (3, 100)])
def test_throttled_rate_matches_capacity_and_sharding_multiplies_it(shards, capacity):
    # a burst of 0.2 s absorbs scheduling gaps on a busy machine; it is counted below
    burst = capacity * 0.2
    with running_shop(write_capacity=capacity, write_burst=burst, shards=shards) as shop:
        accepted, window = _offer_buys(shop, capacity * shards * OVERLOAD, THROTTLE_WINDOW_S)
        stats = shop.stats()
    expected = capacity * shards * window + burst * shards
    assert accepted == stats["orders"]
    assert stats["throttled"] > 0  # the offered load really exceeded the capacity
    assert accepted == pytest.approx(expected, rel=0.10)


def test_stall_holds_requests_in_the_last_part_of_each_period():
    hold, period = 0.5, 2.0
    with running_shop(stall=f"{hold * 1000:g}ms/{period:g}s") as shop:
        client = ShopClient(shop.url)
        client.get("/stats")  # connect outside the measured requests
        base = (time.time() // period + 1) * period  # the next period boundary
        plan = [0.2, 1.0, 1.6, period + 0.5, period + 1.75]
        for offset in plan:
            time.sleep(max(0.0, base + offset - time.time()))
            reply = client.get("/products")
            assert reply.status == 200
            done = reply.sent_at + reply.elapsed_s
            phase = reply.sent_at % period
            if phase >= period - hold:
                window_end = reply.sent_at - phase + period
                assert done >= window_end - 0.005, f"released early at phase {phase:.3f}"
                assert done < window_end + SLACK_S, f"held too long at phase {phase:.3f}"
            else:
                assert reply.elapsed_s < SLACK_S, f"held at phase {phase:.3f}"
        assert shop.stats()["stalled"] == 2


def test_cold_start_and_idle_timeout_over_http():
    with running_shop(cold_start="300ms", idle_timeout="1s") as shop:
        client = ShopClient(shop.url)
        first = client.get("/products")
        assert first.elapsed_s >= 0.3
        client.get("/products")
        assert shop.stats()["instances"]["cold_starts"] == 1
        time.sleep(1.2)
        assert client.get("/products").elapsed_s >= 0.3
        assert shop.stats()["instances"]["cold_starts"] == 2


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_signals_stop_the_shop_cleanly(sig, code):
    shop = start_shop()
    try:
        ShopClient(shop.url).get("/products")
    finally:
        assert shop.stop(sig) == code
    assert "Traceback" not in shop.log()


def _surge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "surge", "shop", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args", [["--stall", "5s/1s"], ["--cold-start", "800"], ["--error-rate", "200%"],
             ["--shards", "0"], ["--service-time", "gamma:1s"]],
)  # fmt: skip
def test_bad_flags_are_user_errors(args):
    result = _surge("--port", "0", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_a_busy_port_is_an_infrastructure_error(shop):
    result = _surge("--port", str(shop.port))
    assert result.returncode == 4
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr
