"""Servers a test starts as child processes: wait until one answers, stop it for sure."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable


def wait_until_answers(
    url: str,
    proc: subprocess.Popen,
    *,
    what: str,
    timeout_s: float,
    poll_s: float = 0.1,
    detail: Callable[[], str] = str,
) -> None:
    """Until a GET of `url` succeeds (2xx, 3xx); RuntimeError naming `what` (and
    `detail()`, e.g. the child's log) when `proc` ends or `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=min(5.0, timeout_s)):
                return
        except OSError:
            ended = proc.poll()
            if ended is not None or time.monotonic() > deadline:
                why = f"exited with {ended}" if ended is not None else f"within {timeout_s:g}s"
                raise RuntimeError(f"{what} did not answer on {url} ({why}) {detail()}") from None
            time.sleep(poll_s)


def stop_child(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> None:
    """Send `sig` (SIGINT: as Ctrl-C would, see `signals.like_a_terminal`), then SIGKILL
    if it has not ended within `timeout_s`; nothing if it already ended."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
