"""Spot interruption notices: a worker on a spot instance leaves in good order.

EC2 gives a spot instance two minutes' warning through the instance metadata
service: ``/latest/meta-data/spot/instance-action`` answers 404 until the instance is
to be stopped or terminated, then ``{"action": "terminate", "time": "..."}``.
`SpotWatcher` polls it with IMDSv2 (a session token from ``PUT /latest/api/token``,
as the fleet's launch template requires) every `POLL_S` and calls `on_notice` once.
The worker agent then stops its Locust workers (they stop sending, write their last
part), uploads and leaves; the master re-splits the rate among the others, as it
does for any worker that goes.

The metadata endpoint is one setting, ``SURGE_IMDS_ENDPOINT`` (tests point it at a
stub on loopback). Off EC2 nothing answers: a failed poll is logged once and retried.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

IMDS_ENDPOINT_ENV = "SURGE_IMDS_ENDPOINT"
DEFAULT_IMDS_ENDPOINT = "http://169.254.169.254"
TOKEN_PATH = "/latest/api/token"
ACTION_PATH = "/latest/meta-data/spot/instance-action"
TOKEN_TTL_S = 300
POLL_S = 2.0  # the warning is 120 s; a stop, flush and upload take a few seconds
TIMEOUT_S = 1.0  # IMDS answers in microseconds; off EC2 do not hang

log = logging.getLogger("surge.agent")


def imds_endpoint() -> str:
    return (os.environ.get(IMDS_ENDPOINT_ENV) or DEFAULT_IMDS_ENDPOINT).rstrip("/")


class SpotWatcher:
    """Polls the spot interruption notice in a thread; `notice` holds it once seen."""

    def __init__(
        self,
        on_notice: Callable[[dict[str, Any]], None],
        *,
        endpoint: str | None = None,
        poll_s: float | None = None,
    ) -> None:
        self.endpoint = (endpoint or imds_endpoint()).rstrip("/")
        self.on_notice = on_notice
        self.poll_s = poll_s or POLL_S
        self.notice: dict[str, Any] | None = None
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="spot-watcher", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._quit.set()
        if self._thread:
            self._thread.join()

    def _loop(self) -> None:
        while not self._quit.is_set():
            if self.check():
                return
            self._quit.wait(self.poll_s)

    def check(self) -> bool:
        """One poll; True once a notice was seen (and `on_notice` called)."""
        try:
            notice = self._poll()
        except (OSError, ValueError) as exc:
            if not self._failing:  # off EC2 this fails every time: say it once
                log.warning("spot notice unreadable at %s (will retry): %s", self.endpoint, exc)
                self._failing = True
            return False
        self._failing = False
        if notice is None:
            return False
        self.notice = notice
        log.warning("spot interruption notice: %s", notice)
        self.on_notice(notice)
        return True

    def _poll(self) -> dict[str, Any] | None:
        token_request = urllib.request.Request(
            self.endpoint + TOKEN_PATH,
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_S)},
        )
        with urllib.request.urlopen(token_request, timeout=TIMEOUT_S) as resp:
            token = resp.read().decode()
        request = urllib.request.Request(
            self.endpoint + ACTION_PATH, headers={"X-aws-ec2-metadata-token": token}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # no interruption scheduled
                return None
            raise
        if not isinstance(body, dict) or "action" not in body:
            raise ValueError(f"unexpected instance-action document: {body!r}")
        return body
