"""The shop as a raw ASGI application (no framework: the listing must stay cheap).

Request path for the API routes, in the order the real stack applies it:
stall (the "network") -> Cognito authorizer (buy only) -> function instance
(cold start, concurrency limit) -> injected error -> service time -> business
logic (404/400/409, partition write or throttle).

Statuses chosen to match what API Gateway + Lambda + DynamoDB return (see
shop/README.md, "Statuses"): 401 unauthenticated, 429 concurrency limit,
500 throttled write (ProvisionedThroughputExceededException after the SDK gave
up, returned by the function), 502 a crashed function (injected errors).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from surge.shop import tokens
from surge.shop.catalog import Catalog, make_products
from surge.shop.cognito import CONTENT_TYPE, UserPool
from surge.shop.config import ShopConfig
from surge.shop.instances import AccountConcurrency, FunctionPool
from surge.shop.partitions import WriteOutcome
from surge.shop.stats import ShopStats

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: request bodies beyond this answer 413
MAX_BODY_BYTES = 64 * 1024
ADMIN_KEY_HEADER = b"x-admin-key"
#: base of the SDK-like full-jitter backoff between throttled write attempts
WRITE_RETRY_BASE_S = 0.05
#: verified tokens remembered (with their expiry) so repeat buys skip the HMAC
AUTHORIZER_CACHE_SIZE = 100_000
AUTH_PATHS = frozenset({"/", "/auth", "/auth/"})

ROUTE_LIST = "GET /products"
ROUTE_PRODUCT = "GET /products/{id}"
ROUTE_BUY = "POST /products/{id}/buy"
ROUTE_AUTH = "POST /auth"
ROUTE_STATS = "GET /stats"
ROUTE_RESET = "POST /admin/reset"
ROUTE_OTHER = "other"

FUNCTION_LIST = "list-products"
FUNCTION_BUY = "buy-product"

JSON = b"application/json"
AMZ_JSON = CONTENT_TYPE.encode()
Response = tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]


def _json(status: int, body: Any, content_type: bytes = JSON) -> Response:
    return status, json.dumps(body, separators=(",", ":")).encode(), content_type, []


def _message(status: int, message: str) -> Response:
    return _json(status, {"message": message})


UNAUTHORIZED = _message(401, "Unauthorized")
FORBIDDEN = _message(403, "Forbidden")
NOT_FOUND = _message(404, "Not Found")
METHOD_NOT_ALLOWED = _message(405, "Method Not Allowed")
TOO_LARGE = _message(413, "Request Entity Too Large")
# Lambda's TooManyRequestsException as API Gateway passes it on
CONCURRENCY_THROTTLED = _json(
    429,
    {"Reason": "ConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."},
)
# what a Node.js function returns after the AWS SDK gave up retrying the write: the
# serialised SDK error, its type also in the header AWS services name errors with
WRITE_THROTTLED_TYPE = "ProvisionedThroughputExceededException"
WRITE_THROTTLED: Response = (
    *_json(
        500,
        {
            "message": "The level of configured provisioned throughput for the table was "
            "exceeded. Consider increasing your provisioning level with the UpdateTable API.",
            "code": WRITE_THROTTLED_TYPE,
            "retryable": True,
        },
    )[:3],
    [(b"x-amzn-errortype", WRITE_THROTTLED_TYPE.encode())],
)
# API Gateway's answer when the Lambda function crashes
FUNCTION_ERROR = _message(502, "Internal server error")


class ShopApp:
    """The composition object of one shop process: config, state and the ASGI entry point."""

    def __init__(self, config: ShopConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config.validated()
        self.clock = clock
        self.rng = random.Random(config.random_seed)
        self.users = UserPool(
            users=config.users,
            seed=config.seed,
            client_id=config.client_id,
            token_ttl_s=config.token_ttl_s,
            signing_key=config.signing_key,
        )
        self._verified: dict[str, float] = {}
        self._order_prefix = uuid.uuid4().hex[:8]
        self._order_count = 0
        self._plain = not (
            config.uses_instances
            or config.stall
            or config.error_rate
            or not config.service_time.is_zero
        )
        self.reset()

    def reset(self, stock: int | None = None) -> None:
        """Restock every product, zero the counters, forget throttle and instance state."""
        cfg = self.config
        self.stats = ShopStats()
        self.catalog = Catalog(
            make_products(cfg.products),
            stock=cfg.stock if stock is None else stock,
            shards=cfg.shards,
            write_capacity=cfg.write_capacity,
            write_burst=cfg.write_burst,
            rng=self.rng,
        )
        self.account = AccountConcurrency(cfg.concurrency_limit)
        self.functions = {
            name: FunctionPool(
                name,
                cold_start_s=cfg.cold_start_s,
                idle_timeout_s=cfg.idle_timeout_s,
                account=self.account,
            )
            for name in (FUNCTION_LIST, FUNCTION_BUY)
        }

    # ---- ASGI entry point -------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if self._plain and method == "GET" and path == "/products":  # the hot path
            self.stats.requests[(ROUTE_LIST, 200)] += 1
            await _send(send, (200, self.catalog.listing(), JSON, []))
            return
        route, response = await self._dispatch(scope, receive, method, path)
        self.stats.requests[(route, response[0])] += 1
        await _send(send, response)

    async def _dispatch(
        self, scope: Scope, receive: Receive, method: str, path: str
    ) -> tuple[str, Response]:
        if path == "/products" or path == "/products/":
            if method != "GET":
                return ROUTE_LIST, METHOD_NOT_ALLOWED
            return ROUTE_LIST, await self._api(FUNCTION_LIST, self._list)
        if path.startswith("/products/"):
            rest = path[len("/products/") :]
            if rest.endswith("/buy"):
                if method != "POST":
                    return ROUTE_BUY, METHOD_NOT_ALLOWED
                return ROUTE_BUY, await self._buy(scope, receive, rest[: -len("/buy")])
            if "/" in rest:
                return ROUTE_OTHER, NOT_FOUND
            if method != "GET":
                return ROUTE_PRODUCT, METHOD_NOT_ALLOWED
            return ROUTE_PRODUCT, await self._api(FUNCTION_LIST, lambda: self._product(rest))
        if path in AUTH_PATHS:
            if method != "POST":
                return ROUTE_AUTH, METHOD_NOT_ALLOWED
            return ROUTE_AUTH, await self._sign_in(scope, receive)
        if path == "/stats":
            if method != "GET":
                return ROUTE_STATS, METHOD_NOT_ALLOWED
            return ROUTE_STATS, _json(200, self.stats_document())
        if path == "/admin/reset":
            if method != "POST":
                return ROUTE_RESET, METHOD_NOT_ALLOWED
            return ROUTE_RESET, await self._reset(scope, receive)
        return ROUTE_OTHER, NOT_FOUND

    # ---- the function path --------------------------------------------------------------

    async def _api(
        self,
        function: str,
        handler: Callable[[], Awaitable[Response]],
        auth_scope: Scope | None = None,
    ) -> Response:
        """Run a handler the way API Gateway runs a Lambda function.

        ``auth_scope`` (buy only) is checked by the Cognito authorizer, after
        the stall (the network) and before a function instance is taken.
        """
        if self._plain and auth_scope is None:
            return await handler()
        cfg = self.config
        if cfg.stall is not None:
            now = self.clock()
            release_at = cfg.stall.release_at(now)
            if release_at is not None:
                self.stats.stalled += 1
                await asyncio.sleep(release_at - now)
        if auth_scope is not None and not self._authorized(auth_scope):
            return UNAUTHORIZED
        if self._plain:
            return await handler()
        pool = self.functions[function]
        instance = None
        if cfg.uses_instances:
            instance = await pool.acquire()
            if instance is None:
                return CONCURRENCY_THROTTLED
        try:
            if cfg.error_rate and self.rng.random() < cfg.error_rate:
                self.stats.errors_injected += 1
                return FUNCTION_ERROR
            if not cfg.service_time.is_zero:
                await asyncio.sleep(cfg.service_time.sample(self.rng))
            return await handler()
        finally:
            if instance is not None:
                pool.release(instance)

    def _authorized(self, scope: Scope) -> bool:
        """The Cognito authorizer, with its result cache (API Gateway caches it too)."""
        now = self.clock()
        try:
            token = tokens.bearer_token(_header(scope, b"authorization"))
            expires = self._verified.get(token)
            if expires is None:
                expires = tokens.verify(token, self.config.signing_key, now=now)["exp"]
                if len(self._verified) >= AUTHORIZER_CACHE_SIZE:
                    self._verified.clear()
                self._verified[token] = expires
            elif expires <= now:
                raise tokens.TokenRejected(tokens.TokenProblem.EXPIRED)
        except tokens.TokenRejected as exc:
            self.stats.token_rejections[exc.problem.value] += 1
            return False
        return True

    async def _list(self) -> Response:
        return 200, self.catalog.listing(), JSON, []

    async def _product(self, product_id: str) -> Response:
        if product_id not in self.catalog.products:
            return _message(404, f"product {product_id!r} not found")
        return _json(200, self.catalog.as_dict(product_id))

    async def _buy(self, scope: Scope, receive: Receive, product_id: str) -> Response:
        body = await _read_body(receive)
        if body is None:
            return TOO_LARGE
        return await self._api(
            FUNCTION_BUY, lambda: self._buy_now(product_id, body), auth_scope=scope
        )

    async def _buy_now(self, product_id: str, body: bytes) -> Response:
        if product_id not in self.catalog.products:
            return _message(404, f"product {product_id!r} not found")
        quantity = _quantity(body)
        if quantity is None:
            return _message(400, "quantity must be a positive integer")
        if quantity > self.config.max_quantity:
            return _message(400, f"quantity must not exceed {self.config.max_quantity}")
        outcome = await self._write(product_id, quantity)
        if outcome is WriteOutcome.OUT_OF_STOCK:
            available = self.catalog.stock[product_id].total
            return _json(409, {"message": "not enough stock", "available": available})
        if outcome is WriteOutcome.THROTTLED:
            self.stats.throttled_writes += 1
            return WRITE_THROTTLED
        self.stats.orders += 1
        self.stats.units_sold += quantity
        self._order_count += 1
        order_id = f"{self._order_prefix}-{self._order_count:010d}"
        order = {"orderId": order_id, "productId": product_id, "quantity": quantity}
        return _json(200, order)

    async def _write(self, product_id: str, quantity: int) -> WriteOutcome:
        """The partition write, retried on throttling like the AWS SDK does.

        Full-jitter exponential backoff (Node.js SDK v2: base 50 ms, 10 retries
        for DynamoDB): this is what turned throttling into 20 s responses in
        the original experiment. Stock is checked again on every attempt. With a
        `function_timeout_s`, the last pause is cut short so that the last attempt
        happens at the limit: past the knee, answers take up to the limit, then fail.
        """
        attempt = 0
        started = time.monotonic()
        limit = self.config.function_timeout_s
        while True:
            outcome = self.catalog.buy(product_id, quantity)
            if outcome is not WriteOutcome.THROTTLED:
                return outcome
            self.stats.throttle_events += 1
            if attempt >= self.config.write_retries:
                return outcome
            pause = self.rng.uniform(0, WRITE_RETRY_BASE_S * 2**attempt)
            if limit is not None:
                left = limit - (time.monotonic() - started)
                if left <= 0:
                    return outcome
                pause = min(pause, left)
            await asyncio.sleep(pause)
            attempt += 1

    # ---- sign-in, stats, admin ----------------------------------------------------------

    async def _sign_in(self, scope: Scope, receive: Receive) -> Response:
        body = await _read_body(receive)
        if body is None:
            return TOO_LARGE
        answer = self.users.initiate_auth(_header(scope, b"x-amz-target"), body, self.clock())
        if answer.status == 200:
            self.stats.sign_ins += 1
        else:
            self.stats.sign_in_failures += 1
        status, payload, _, _ = _json(answer.status, answer.body, AMZ_JSON)
        headers = [(b"x-amzn-requestid", str(uuid.uuid4()).encode())]
        if answer.error_type:
            headers.append((b"x-amzn-errortype", f"{answer.error_type}:".encode()))
        return status, payload, AMZ_JSON, headers

    def stats_document(self) -> dict[str, Any]:
        doc = self.stats.as_dict()
        doc["stock"] = self.catalog.stock_levels()
        doc["instances"] = {
            "in_use": self.account.in_use,
            "peak": self.account.peak,
            "cold_starts": sum(p.cold_starts for p in self.functions.values()),
            "throttled": sum(p.throttled for p in self.functions.values()),
            "warm": {name: p.warm for name, p in self.functions.items()},
        }
        doc["failure_modes"] = self.config.failure_modes()
        return doc

    async def _reset(self, scope: Scope, receive: Receive) -> Response:
        body = await _read_body(receive)
        if _header(scope, ADMIN_KEY_HEADER) != self.config.admin_key:
            return FORBIDDEN
        stock = None
        if body and body.strip():
            try:
                request = json.loads(body)
            except ValueError:
                return _message(400, 'body must be JSON, like {"stock": 100}')
            stock = request.get("stock") if isinstance(request, dict) else None
            if stock is not None and (not _is_count(stock) or stock < 0):
                return _message(400, "stock must be a non-negative integer")
        self.reset(stock)
        return _json(200, {"reset": True, "stock": self.catalog.stock_levels()})


# ---- ASGI plumbing --------------------------------------------------------------------


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it exceeds `MAX_BODY_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, response: Response) -> None:
    status, body, content_type, extra = response
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + extra})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _quantity(body: bytes) -> int | None:
    """The order's quantity if it is a positive integer, else None."""
    try:
        request = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(request, dict):
        return None
    quantity = request.get("quantity")
    if not _is_count(quantity) or quantity < 1:
        return None
    return quantity


def build_app(config: ShopConfig) -> ShopApp:
    """The ASGI app for ``config``: serve it with any ASGI server, or call it in-process."""
    return ShopApp(config)
