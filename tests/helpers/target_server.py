"""A tiny HTTP target on loopback for engine tests: fast answers, an optional stall.

``python -m tests.helpers.target_server PORT [STALL_S PERIOD_S]``. Every request that
arrives in the last ``STALL_S`` of each ``PERIOD_S`` (wall clock) is held until that
window ends, like the reference shop's ``--stall``. ``/status/<code>`` answers that code;
``/sleep/<ms>`` answers after that long. Counts requests at ``/count``.
"""

from __future__ import annotations

import socket
import sys
import time

import gevent
from gevent.pywsgi import WSGIHandler, WSGIServer

COUNT = [0]


def make_app(stall_s: float, period_s: float):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path == "/count":
            body = str(COUNT[0]).encode()
            start_response("200 OK", [("Content-Length", str(len(body)))])
            return [body]
        COUNT[0] += 1
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
        return [body]

    return app


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
