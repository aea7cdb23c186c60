"""A tiny HTTP target on loopback for engine tests: fast answers, an optional stall.

``python -m tests.helpers.target_server PORT [STALL_S PERIOD_S]``. Every request that
arrives in the last ``STALL_S`` of each ``PERIOD_S`` (wall clock) is held until that
window ends, like the reference shop's ``--stall``. ``/status/<code>`` answers that code;
``/sleep/<ms>`` answers after that long; ``/api/...`` is a small JSON API (`api`).
Counts requests at ``/count``, answered ones at ``/answered``.
"""

from __future__ import annotations

import json
import socket
import sys
import time

import gevent
from gevent.pywsgi import WSGIHandler, WSGIServer

COUNT = [0]
ANSWERED = [0]  # responses fully handed to the socket (the count a recorder must match)


class _Answered(list):
    """A WSGI body whose `close` (called once the response is written) counts it."""

    def close(self) -> None:
        ANSWERED[0] += 1


def make_app(stall_s: float, period_s: float):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path in ("/count", "/answered"):
            body = str(COUNT[0] if path == "/count" else ANSWERED[0]).encode()
            start_response("200 OK", [("Content-Length", str(len(body)))])
            return [body]
        COUNT[0] += 1
        if path.startswith("/api/"):
            return api(environ, start_response)
        if stall_s > 0:
            phase = time.time() % period_s
            if phase >= period_s - stall_s:
                gevent.sleep(period_s - phase)
        status = "200 OK"
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            status = f"{code} X"
        elif path.startswith("/sleep/"):
            gevent.sleep(int(path.rsplit("/", 1)[1]) / 1000.0)
        body = b"ok"
        start_response(status, [("Content-Length", str(len(body))), ("Content-Type", "text/plain")])
        return _Answered([body])

    return app


def api(environ, start_response):
    """A small JSON API for scenario-corpus tests: ``/api/login`` (POST) answers a token
    and sets a ``sid`` cookie; ``/api/secure/...`` needs ``Authorization: Bearer <token>``
    (401 otherwise); every other ``/api/...`` echoes method, path, query and body as JSON."""
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = [("Content-Type", "application/json")]
    status = "200 OK"
    answer = {"ok": True, "method": method, "path": path,
              "query": environ.get("QUERY_STRING", ""), "body": body.decode("latin-1"),
              "cookie": environ.get("HTTP_COOKIE", "")}  # fmt: skip
    if path == "/api/login":
        if method != "POST":
            status, answer = "405 Method Not Allowed", {"__type": "MethodNotAllowed"}
        else:
            answer["token"] = API_TOKEN
            headers.append(("Set-Cookie", "sid=s1; Path=/; HttpOnly"))
    elif path.startswith("/api/secure/") and environ.get("HTTP_AUTHORIZATION") != (
        f"Bearer {API_TOKEN}"
    ):
        status, answer = "401 Unauthorized", {"__type": "NotAuthorizedException"}
    data = json.dumps(answer).encode()
    start_response(status, [*headers, ("Content-Length", str(len(data)))])
    return [data]


API_TOKEN = "t0ken"


class NoDelayHandler(WSGIHandler):
    """pywsgi sends headers and body in two writes; without TCP_NODELAY the client's
    delayed ACK adds 40 ms to every response."""

    def handle(self):
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()


def main(argv: list[str]) -> None:
    port = int(argv[0])
    stall_s = float(argv[1]) if len(argv) > 1 else 0.0
    period_s = float(argv[2]) if len(argv) > 2 else 5.0
    server = WSGIServer(
        ("127.0.0.1", port), make_app(stall_s, period_s), log=None, handler_class=NoDelayHandler
    )
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
