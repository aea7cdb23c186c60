"""Every route and status of the shop, driven in-process through its ASGI app."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from surge.shop import tokens
from surge.shop.app import build_app
from surge.shop.config import ShopConfig, ShopConfigError
from surge.shop.credentials import password_for
from surge.shop.latency import parse_service_time
from tests.helpers.shop import AUTH_HEADERS, acall_app, auth_body, call_app

ADMIN = {"X-Admin-Key": "secret"}


def make_app(**changes):
    base = {"users": 3, "products": 3, "stock": 5, "admin_key": "secret", "random_seed": 1}
    return build_app(ShopConfig(**{**base, **changes}))


def token_for(app, username="user0001"):
    return app.users.issue(username, app.clock())["IdToken"]


def sign_in(app, username="user0001", password=None, path="/auth/", **kwargs):
    password = password_for(username) if password is None else password
    headers = {**AUTH_HEADERS, **kwargs.pop("headers", {})}
    body = auth_body(username, password, **kwargs)
    return call_app(app, "POST", path, raw_body=body, headers=headers)


@pytest.fixture
def app():
    return make_app()


# ---- catalogue --------------------------------------------------------------------------


def test_list_products(app):
    reply = call_app(app, "GET", "/products")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    products = reply.json["products"]
    assert [p["id"] for p in products] == ["1", "2", "3"]
    assert set(products[0]) == {"id", "name", "price", "stock"}
    assert all(p["stock"] == 5 for p in products)


def test_get_one_product_and_unknown_ones(app):
    assert call_app(app, "GET", "/products/2").json["id"] == "2"
    assert call_app(app, "GET", "/products/99").status == 404
    assert call_app(app, "GET", "/products/1/extra").status == 404
    assert call_app(app, "GET", "/nowhere").status == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/products"), ("DELETE", "/products/1"), ("GET", "/products/1/buy"),
     ("POST", "/stats"), ("GET", "/admin/reset"), ("GET", "/auth/")],
)  # fmt: skip
def test_wrong_methods_answer_405(app, method, path):
    assert call_app(app, method, path).status == 405


# ---- sign-in ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/auth/", "/auth", "/"])
def test_sign_in_answers_cognito_shaped_tokens(app, path):
    reply = sign_in(app, path=path)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"
    result = reply.json["AuthenticationResult"]
    assert result["ExpiresIn"] == 3600 and result["TokenType"] == "Bearer"
    claims = tokens.verify(result["IdToken"], app.config.signing_key)
    assert claims["cognito:username"] == "user0001" and claims["token_use"] == "id"
    assert tokens.verify(result["AccessToken"], app.config.signing_key)["token_use"] == "access"


@pytest.mark.parametrize("username", ["user0001", "user0004", "nobody"])
def test_bad_credentials_answer_not_authorized(app, username):
    reply = sign_in(app, username=username, password="wrong")
    assert reply.status == 400
    assert reply.json["__type"] == "NotAuthorizedException"
    assert reply.headers["x-amzn-errortype"].startswith("NotAuthorizedException")


def test_sign_in_errors_follow_cognito(app):
    assert sign_in(app, client_id="other").json["__type"] == "ResourceNotFoundException"
    other_target = {"X-Amz-Target": "AWSCognitoIdentityProviderService.SignUp"}
    assert sign_in(app, headers=other_target).json["__type"] == "UnknownOperationException"
    bad_flow = json.dumps({"AuthFlow": "USER_SRP_AUTH", "ClientId": "surge-shop"}).encode()
    reply = call_app(app, "POST", "/auth/", raw_body=bad_flow, headers=AUTH_HEADERS)
    assert (reply.status, reply.json["__type"]) == (400, "InvalidParameterException")
    reply = call_app(app, "POST", "/auth/", raw_body=b"{nope", headers=AUTH_HEADERS)
    assert reply.json["__type"] == "SerializationException"
    assert app.stats.sign_in_failures == 4


# ---- buying -----------------------------------------------------------------------------


def test_buy_decrements_stock_and_returns_an_order(app):
    reply = call_app(app, "POST", "/products/1/buy", {"quantity": 2}, token=token_for(app))
    assert reply.status == 200
    assert reply.json["orderId"] and reply.json["quantity"] == 2
    assert call_app(app, "GET", "/products/1").json["stock"] == 3
    assert call_app(app, "GET", "/products").json["products"][0]["stock"] == 3  # cache renewed
    assert (app.stats.orders, app.stats.units_sold) == (1, 2)


def test_buy_with_the_access_token_works_too(app):
    access = app.users.issue("user0002", app.clock())["AccessToken"]
    assert call_app(app, "POST", "/products/1/buy", {"quantity": 1}, token=access).status == 200


def test_buy_refuses_missing_bad_and_expired_tokens(app):
    key = app.config.signing_key
    expired = tokens.sign({"sub": "x", "exp": int(app.clock()) - 1}, key)
    forged = tokens.sign({"sub": "x", "exp": int(app.clock()) + 60}, b"not the key")
    for token in (None, "garbage", forged, expired):
        reply = call_app(app, "POST", "/products/1/buy", {"quantity": 1}, token=token)
        assert (reply.status, reply.json) == (401, {"message": "Unauthorized"})
    assert app.stats.token_rejections == {
        "missing": 1, "malformed": 1, "bad_signature": 1, "expired": 1
    }  # fmt: skip
    assert app.catalog.stock_levels()["1"] == 5


def test_buy_unknown_product_is_404(app):
    reply = call_app(app, "POST", "/products/99/buy", {"quantity": 1}, token=token_for(app))
    assert reply.status == 404


@pytest.mark.parametrize(
    "body", [{"quantity": 0}, {"quantity": -1}, {"quantity": "2"}, {"quantity": 1.5},
             {"quantity": True}, {}, [1], None, {"quantity": 11}],
)  # fmt: skip
def test_buy_with_a_bad_quantity_is_400(app, body):
    reply = call_app(app, "POST", "/products/1/buy", body, token=token_for(app))
    assert reply.status == 400
    assert app.catalog.stock_levels()["1"] == 5


def test_buy_with_an_unparsable_body_is_400(app):
    reply = call_app(app, "POST", "/products/1/buy", raw_body=b"{", token=token_for(app))
    assert reply.status == 400


def test_buy_more_than_the_stock_is_409(app):
    reply = call_app(app, "POST", "/products/1/buy", {"quantity": 6}, token=token_for(app))
    assert (reply.status, reply.json["available"]) == (409, 5)


def test_oversized_bodies_are_413(app):
    huge = b"x" * (65 * 1024)
    assert call_app(app, "POST", "/products/1/buy", raw_body=huge).status == 413


def test_concurrent_buys_never_oversell():
    app = make_app(stock=100, service_time=parse_service_time("uniform:0ms,2ms"))
    token = token_for(app)
    rng = random.Random(5)
    quantities = [rng.randint(1, 3) for _ in range(150)]

    async def buy_all():
        return await asyncio.gather(
            *(acall_app(app, "POST", "/products/1/buy", {"quantity": q}, token=token)
              for q in quantities)
        )  # fmt: skip

    replies = asyncio.run(buy_all())
    bought = sum(q for q, r in zip(quantities, replies, strict=True) if r.status == 200)
    assert {r.status for r in replies} <= {200, 409}
    assert bought == 100 - app.catalog.stock_levels()["1"] == app.stats.units_sold
    assert app.catalog.stock_levels()["1"] >= 0


# ---- stats and admin ----------------------------------------------------------------------


def test_stats_counts_requests_by_route_and_status(app):
    call_app(app, "GET", "/products")
    call_app(app, "GET", "/products/99")
    call_app(app, "POST", "/products/1/buy", {"quantity": 1})
    stats = call_app(app, "GET", "/stats").json
    assert stats["requests"]["GET /products"] == {"200": 1}
    assert stats["requests"]["GET /products/{id}"] == {"404": 1}
    assert stats["requests"]["POST /products/{id}/buy"] == {"401": 1}
    assert stats["stock"] == {"1": 5, "2": 5, "3": 5}
    assert stats["orders"] == 0 and stats["throttled"] == 0


def test_reset_needs_the_admin_key(app):
    assert call_app(app, "POST", "/admin/reset").status == 403
    assert call_app(app, "POST", "/admin/reset", headers={"X-Admin-Key": "nope"}).status == 403


def test_reset_restocks_and_zeroes_counters(app):
    call_app(app, "POST", "/products/1/buy", {"quantity": 5}, token=token_for(app))
    reply = call_app(app, "POST", "/admin/reset", headers=ADMIN)
    assert reply.status == 200 and reply.json["stock"]["1"] == 5
    assert app.stats.orders == 0
    assert app.stats.requests == {("POST /admin/reset", 200): 1}  # counted in the new epoch
    reply = call_app(app, "POST", "/admin/reset", {"stock": 42}, headers=ADMIN)
    assert app.catalog.stock_levels() == {"1": 42, "2": 42, "3": 42}
    assert call_app(app, "POST", "/admin/reset", {"stock": -1}, headers=ADMIN).status == 400


# ---- failure modes ------------------------------------------------------------------------


def test_write_capacity_throttles_buys_with_a_500(app):
    app = make_app(stock=100, write_capacity=1, write_burst=2)
    token = token_for(app)
    statuses = [
        call_app(app, "POST", "/products/1/buy", {"quantity": 1}, token=token).status
        for _ in range(4)
    ]
    assert statuses == [200, 200, 500, 500]
    reply = call_app(app, "POST", "/products/1/buy", {"quantity": 1}, token=token)
    assert reply.json["code"] == "ProvisionedThroughputExceededException"
    assert app.stats.throttled_writes == 3 and app.catalog.stock_levels()["1"] == 98


def test_throttled_writes_are_retried_with_backoff_like_the_sdk():
    app = make_app(stock=100, write_capacity=20, write_burst=1, write_retries=10)
    token = token_for(app)
    replies = [
        call_app(app, "POST", "/products/1/buy", {"quantity": 1}, token=token) for _ in range(2)
    ]
    assert [r.status for r in replies] == [200, 200]
    assert replies[1].elapsed_s >= 0.04  # waited for the bucket to refill (1/20 s)
    assert app.stats.throttle_events >= 1 and app.stats.throttled_writes == 0


def test_throttled_writes_give_up_after_the_last_retry():
    app = make_app(stock=100, write_capacity=0.5, write_burst=1, write_retries=2)
    token = token_for(app)
    call_app(app, "POST", "/products/1/buy", {"quantity": 1}, token=token)
    reply = call_app(app, "POST", "/products/1/buy", {"quantity": 1}, token=token)
    assert reply.status == 500
    assert (app.stats.throttle_events, app.stats.throttled_writes) == (3, 1)


def test_error_rate_answers_502():
    app = make_app(error_rate=1.0)
    reply = call_app(app, "GET", "/products")
    assert (reply.status, reply.json) == (502, {"message": "Internal server error"})
    assert call_app(app, "GET", "/stats").status == 200  # control routes are never failed
    app = make_app(error_rate=0.3, random_seed=2)

    async def many():
        return await asyncio.gather(*(acall_app(app, "GET", "/products") for _ in range(1000)))

    failed = sum(r.status == 502 for r in asyncio.run(many()))
    assert 230 < failed < 370


def test_cold_starts_reuse_warm_instances_and_expire_idle_ones():
    app = make_app(cold_start_s=0.05, idle_timeout_s=0.2)

    async def scenario():
        first = await asyncio.gather(*(acall_app(app, "GET", "/products") for _ in range(3)))
        assert all(r.elapsed_s >= 0.05 for r in first)
        assert app.functions["list-products"].cold_starts == 3
        again = await acall_app(app, "GET", "/products/1")
        assert app.functions["list-products"].cold_starts == 3  # warm
        await asyncio.sleep(0.25)
        await acall_app(app, "GET", "/products")
        assert app.functions["list-products"].cold_starts == 4  # went cold
        return again

    asyncio.run(scenario())


def test_concurrency_limit_answers_429():
    app = make_app(concurrency_limit=2, service_time=parse_service_time("50ms"))

    async def burst():
        return await asyncio.gather(*(acall_app(app, "GET", "/products") for _ in range(3)))

    statuses = sorted(r.status for r in asyncio.run(burst()))
    assert statuses == [200, 200, 429]
    assert app.stats_document()["instances"]["throttled"] == 1


def test_throttled_writes_retry_until_the_function_time_limit_then_fail_typed():
    """Past the knee: answers take about the function's limit, then fail with the type."""
    app = make_app(stock=100, write_capacity=0.01, write_burst=1, write_retries=10,
                   function_timeout_s=0.3)  # fmt: skip
    token = token_for(app)
    call_app(app, "POST", "/products/1/buy", {"quantity": 1}, token=token)  # the one token
    reply = call_app(app, "POST", "/products/1/buy", {"quantity": 1}, token=token)
    assert reply.status == 500 and reply.json["code"] == "ProvisionedThroughputExceededException"
    assert reply.headers["x-amzn-errortype"] == "ProvisionedThroughputExceededException"
    # the last attempt happens at the limit; without it 10 retries would take ~25 s
    assert 0.3 <= reply.elapsed_s < 5.0
    assert app.stats.throttled_writes == 1 and app.stats.throttle_events >= 2


def test_invalid_configs_are_refused():
    for changes in ({"users": 0}, {"shards": 0}, {"error_rate": 2.0}, {"write_capacity": 0},
                    {"function_timeout_s": 0}):  # fmt: skip
        with pytest.raises(ShopConfigError):
            make_app(**changes)


def test_every_cli_flag_reaches_the_config():
    from surge.cli.commands.shop import config_from_args
    from surge.cli.main import build_parser

    flags = (
        "--port 0 --users 7 --write-capacity 50 --write-burst 5 --write-retries 3"
        " --shards 4 --cold-start 800ms --idle-timeout 1m --concurrency-limit 9"
        " --service-time exp:20ms --stall 1s/5s --error-rate 1% --token-ttl 10s"
        " --admin-key k --random-seed 3 --function-timeout 2.9s"
    )
    argv = ["shop", *flags.split()]
    config = config_from_args(build_parser().parse_args(argv))
    assert (config.users, config.write_capacity, config.write_burst) == (7, 50, 5)
    assert (config.write_retries, config.shards, config.concurrency_limit) == (3, 4, 9)
    assert (config.cold_start_s, config.idle_timeout_s, config.token_ttl_s) == (0.8, 60, 10)
    assert config.service_time.describe() == "exp:20ms"
    assert config.stall is not None and config.stall.describe() == "1s/5s"
    assert (config.error_rate, config.admin_key, config.random_seed) == (0.01, "k", 3)
    assert config.function_timeout_s == 2.9
