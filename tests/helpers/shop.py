"""Start the reference shop (`surge shop`) as a subprocess and talk to it.

Used by the shop's own tests and by every other area that needs a real target
(the Locust engine, runs, benchmarks)::

    with running_shop(write_capacity=100, shards=2) as shop:
        client = ShopClient(shop.url)
        token = client.sign_in(shop, "user0001")
        reply = client.post("/products/1/buy", {"quantity": 1}, token=token)

Keyword flags map to `surge shop` options (``write_capacity=100`` ->
``--write-capacity 100``; ``True`` -> bare flag; ``None`` -> omitted). The
shop always gets a free loopback port, its own credentials file and admin key.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surge.shop.cognito import INITIATE_AUTH_TARGET
from surge.shop.credentials import password_for
from surge.shop.server import READY_PREFIX

REPO_ROOT = Path(__file__).resolve().parents[2]
#: how long `surge shop` may take to print its ready line
START_TIMEOUT_S = 20.0
#: how long it may take to exit after SIGTERM before it is killed
STOP_TIMEOUT_S = 10.0
#: socket timeout of `ShopClient` requests
REQUEST_TIMEOUT_S = 30.0


@dataclass
class ShopHandle:
    """A running `surge shop` subprocess."""

    url: str
    auth_url: str
    admin_key: str
    credentials: Path
    seed: str
    client_id: str
    process: subprocess.Popen[str]
    log_path: Path
    output: list[str] = field(default_factory=list)
    _final_log: str | None = None

    @property
    def port(self) -> int:
        return int(urllib.parse.urlsplit(self.url).port or 0)

    def password(self, username: str) -> str:
        return password_for(username, self.seed)

    def stats(self) -> dict[str, Any]:
        return ShopClient(self.url).get("/stats").json

    def reset(self, stock: int | None = None) -> dict[str, Any]:
        body = {} if stock is None else {"stock": stock}
        reply = ShopClient(self.url).post(
            "/admin/reset", body, headers={"X-Admin-Key": self.admin_key}
        )
        if reply.status != 200:
            raise RuntimeError(f"reset failed: {reply.status} {reply.body!r}")
        return reply.json

    def log(self) -> str:
        """What the shop wrote to stderr (warnings, tracebacks), also after `stop()`."""
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Stop the shop with ``sig`` and return its exit code (killing it if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._final_log is None:
            self._final_log = self.log()
            shutil.rmtree(self.log_path.parent, ignore_errors=True)  # credentials, log
        return self.process.returncode


def _flag_args(flags: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for name, value in flags.items():
        if value is None or value is False:
            continue
        option = "--" + name.replace("_", "-")
        args += [option] if value is True else [option, str(value)]
    return args


def start_shop(*, timeout: float = START_TIMEOUT_S, **flags: Any) -> ShopHandle:
    """Start `surge shop` on a free loopback port; return once it accepts requests.

    Raises RuntimeError with the shop's stderr if it exits or does not get
    ready within ``timeout`` seconds. The caller must `stop()` it.
    """
    workdir = Path(tempfile.mkdtemp(prefix="surge-shop-test-"))
    credentials = workdir / "credentials.json"
    admin_key = flags.pop("admin_key", None) or secrets.token_hex(8)
    seed = flags.pop("seed", None) or "surge"
    client_id = flags.pop("client_id", None) or "surge-shop"
    argv = [sys.executable, "-m", "surge", "shop", "--host", "127.0.0.1", "--port", "0"]
    argv += ["--credentials", str(credentials), "--admin-key", admin_key]
    argv += ["--seed", seed, "--client-id", client_id, *_flag_args(flags)]
    log_path = workdir / "stderr.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    output: list[str] = []
    ready = threading.Event()
    threading.Thread(target=_drain, args=(process, output, ready), daemon=True).start()
    ready.wait(timeout)
    url = next((line[len(READY_PREFIX) :] for line in output if line.startswith(READY_PREFIX)), "")
    if not url:
        if process.poll() is None:
            process.kill()
        process.wait(STOP_TIMEOUT_S)
        log_text = log_path.read_text()
        shutil.rmtree(workdir, ignore_errors=True)
        raise RuntimeError(
            f"surge shop did not get ready within {timeout}s (exit {process.returncode}):\n"
            + log_text
            + "\n".join(output)
        )
    return ShopHandle(
        url=url,
        auth_url=url + "/auth/",
        admin_key=admin_key,
        credentials=credentials,
        seed=seed,
        client_id=client_id,
        process=process,
        log_path=log_path,
        output=output,
    )


def _drain(process: subprocess.Popen[str], output: list[str], ready: threading.Event) -> None:
    """Keep reading the shop's stdout so it never blocks; flag the ready line."""
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line.rstrip("\n"))
        if line.startswith(READY_PREFIX):
            ready.set()
    ready.set()  # exited: wake the starter so it fails fast


@contextlib.contextmanager
def running_shop(*, timeout: float = START_TIMEOUT_S, **flags: Any) -> Iterator[ShopHandle]:
    """`start_shop` as a context manager (or a fixture body): always stopped afterwards."""
    handle = start_shop(timeout=timeout, **flags)
    try:
        yield handle
    finally:
        handle.stop()


def _prepare(
    body: Any, token: str | None, headers: dict[str, str] | None, raw_body: bytes | None
) -> tuple[dict[str, str], bytes]:
    """Headers and payload of a request: a JSON ``body`` or ``raw_body`` bytes, a bearer token."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    if raw_body is not None:
        return all_headers, raw_body
    if body is None:
        return all_headers, b""
    all_headers.setdefault("Content-Type", "application/json")
    return all_headers, json.dumps(body).encode()


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    elapsed_s: float
    sent_at: float  # wall clock

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class ShopClient:
    """A keep-alive HTTP/1.1 client for one thread (stdlib, no dependencies)."""

    def __init__(self, base_url: str, timeout: float = REQUEST_TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> Reply:
        all_headers, payload = _prepare(body, token, headers, raw_body)
        for attempt in (1, 2):  # one retry when a kept-alive connection was closed
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            sent_at, start = time.time(), time.perf_counter()
            try:
                self._conn.request(method, self.prefix + path, body=payload, headers=all_headers)
                response = self._conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - start
            return Reply(response.status, data, dict(response.getheaders()), elapsed, sent_at)
        raise AssertionError("unreachable")

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, **kwargs)

    def initiate_auth(
        self, username: str, password: str, client_id: str = "surge-shop", path: str = "/auth/"
    ) -> Reply:
        body = auth_body(username, password, client_id)
        return self.request("POST", path, raw_body=body, headers=AUTH_HEADERS)

    def sign_in(self, shop: ShopHandle, username: str = "user0001") -> str:
        """Sign in as a seeded user and return the IdToken."""
        reply = self.initiate_auth(username, shop.password(username), shop.client_id)
        if reply.status != 200:
            raise RuntimeError(f"sign-in failed: {reply.status} {reply.body!r}")
        return reply.json["AuthenticationResult"]["IdToken"]


# ---- in-process: drive the ASGI app without a server ----------------------------------


async def acall_app(
    app: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    raw_body: bytes | None = None,
) -> Reply:
    """One request through an ASGI app (e.g. `shop.app.build_app(config)`), in-process."""
    all_headers, payload = _prepare(body, token, headers, raw_body)
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    sent_at, start = time.time(), time.perf_counter()
    await app(scope, receive, send)
    elapsed = time.perf_counter() - start
    start_msg = next(m for m in sent if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    reply_headers = {k.decode(): v.decode() for k, v in start_msg["headers"]}
    return Reply(start_msg["status"], data, reply_headers, elapsed, sent_at)


def call_app(app: Any, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
    """`acall_app` for synchronous tests (runs its own event loop)."""
    import asyncio

    return asyncio.run(acall_app(app, method, path, body, **kwargs))


def auth_body(username: str, password: str, client_id: str = "surge-shop") -> bytes:
    """An InitiateAuth request body, as the scenario sends it."""
    return json.dumps(
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": client_id,
            "AuthParameters": {"USERNAME": username, "PASSWORD": password},
        }
    ).encode()


AUTH_HEADERS = {"X-Amz-Target": INITIATE_AUTH_TARGET, "Content-Type": "application/x-amz-json-1.1"}
