"""An EC2 instance metadata stub on loopback: IMDSv2 tokens and the spot notice.

``PUT /latest/api/token`` answers a token; ``GET /latest/meta-data/spot/instance-action``
with that token answers 404 until `ImdsStub.interrupt()`, then the notice EC2 gives two
minutes before it reclaims a spot instance. A request without the token gets 401, as
IMDSv2 (required by the fleet's launch template) answers. Point an agent at it with
``SURGE_IMDS_ENDPOINT``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "stub-token"


class ImdsStub:
    def __init__(self) -> None:
        self.notice: dict | None = None
        self.polls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _answer(self, code: int, body: bytes = b"") -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                if self.path == "/latest/api/token":
                    self._answer(200, TOKEN.encode())
                else:
                    self._answer(404)

            def do_GET(self) -> None:
                if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                    self._answer(401)
                elif self.path != "/latest/meta-data/spot/instance-action":
                    self._answer(404)
                else:
                    stub.polls += 1
                    notice = stub.notice
                    self._answer(404) if notice is None else self._answer(
                        200, json.dumps(notice).encode()
                    )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def interrupt(self, in_s: float = 120.0) -> None:
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=in_s)
        self.notice = {"action": "terminate", "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def imds_stub() -> Iterator[ImdsStub]:
    stub = ImdsStub()
    try:
        yield stub
    finally:
        stub.close()
