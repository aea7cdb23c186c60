"""Serve the shop with uvicorn (httptools + uvloop, one process) until SIGINT/SIGTERM.

Imported only by `surge shop` (and tests), never by `surge --help`: uvicorn is heavy.

uvicorn serving a raw ASGI app measured well above the 5,000 req/s goal on one
core (see shop/README.md, "Speed"); one worker keeps the shop's state (stock,
buckets, counters) in one place, so stock accounting stays exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn

from surge.errors import InfrastructureError
from surge.shop.app import build_app
from surge.shop.cognito import INITIATE_AUTH_TARGET
from surge.shop.config import ShopConfig
from surge.shop.credentials import credentials_document, write_credentials_file

#: the first banner line; `tests/helpers/shop.py` waits for it to learn the port
READY_PREFIX = "surge shop listening on "
#: how long in-flight requests may take to finish after a signal
GRACEFUL_SHUTDOWN_S = 3.0
#: idle keep-alive connections are kept this long (API Gateway keeps them for minutes)
KEEP_ALIVE_S = 60
LISTEN_BACKLOG = 2048
#: how often the starter checks whether uvicorn is up
READY_POLL_S = 0.01


@dataclass(frozen=True)
class ShopUrls:
    base: str
    auth: str
    credentials_path: Path


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
    except OSError as exc:
        raise InfrastructureError(
            f"cannot listen on {host}:{port}: {exc.strerror}", "surge shop"
        ) from None


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def banner(config: ShopConfig, urls: ShopUrls) -> str:
    modes = config.failure_modes() or ["none"]
    return "\n".join(
        [
            f"{READY_PREFIX}{urls.base}",
            f"  products     GET  {urls.base}/products",
            f"  buy          POST {urls.base}/products/{{id}}/buy  (Authorization: Bearer)",
            f"  sign-in      POST {urls.auth}  (X-Amz-Target: {INITIATE_AUTH_TARGET},"
            f" ClientId {config.client_id})",
            f"  stats        GET  {urls.base}/stats",
            f"  credentials  {urls.credentials_path}  ({config.users} users, seed {config.seed!r})",
            f"  admin key    {config.admin_key}  (X-Admin-Key for POST /admin/reset)",
            f"  failure modes: {'; '.join(modes)}",
            "Stop with Ctrl-C.",
        ]
    )


def serve(config: ShopConfig, *, announce: Callable[[str], None] | None = None) -> int:
    """Run the shop until a signal; return the signal number that stopped it (0 if none)."""
    config = config.validated()
    sock = _bind(config.host, config.port)
    port = sock.getsockname()[1]
    base = _base_url(config.host, port)
    credentials_path = config.credentials_path or (
        Path(tempfile.gettempdir()) / f"surge-shop-{port}" / "credentials.json"
    )
    urls = ShopUrls(base=base, auth=f"{base}/auth/", credentials_path=credentials_path)
    document = credentials_document(
        users=config.users,
        seed=config.seed,
        auth_url=urls.auth,
        client_id=config.client_id,
        admin_key=config.admin_key,
    )
    document["base_url"] = base
    write_credentials_file(credentials_path, document)

    uv_config = uvicorn.Config(
        build_app(config),
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        backlog=LISTEN_BACKLOG,
    )
    server = _ShopServer(uv_config)
    say = announce or (lambda text: print(text, flush=True))

    async def main() -> None:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(READY_POLL_S)
        if server.started:
            say(banner(config, urls))
        await task

    with asyncio.Runner(loop_factory=uv_config.get_loop_factory()) as runner:
        runner.run(main())
    sock.close()
    return server.stopped_by


class _ShopServer(uvicorn.Server):
    """uvicorn's Server, stopping on SIGINT/SIGTERM without re-raising the signal.

    uvicorn re-raises a captured signal after shutting down, which would turn a
    clean SIGTERM stop into death by signal; the CLI wants an exit code instead.
    """

    stopped_by = 0

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.stopped_by = self.stopped_by or sig
        super().handle_exit(sig, frame)


def exit_code_for(stopped_by: int) -> int:
    """0 after SIGTERM (a requested stop), 130 after SIGINT (interrupted), as documented."""
    return 130 if stopped_by == signal.SIGINT else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(exit_code_for(serve(ShopConfig(port=0))))
