"""A generator's own health: whether it kept up, and if not, whose fault that was.

Send lag (actual minus intended send time) says that a worker fell behind, not why.
Three more figures, taken every second, tell the causes apart:

- ``cpu_percent``: this process's CPU. Near 100 %, the generator itself is the limit.
- ``cpu_wait_percent``: the share of the second the event loop's thread was ready to
  run but waited for a CPU (Linux ``schedstat``). High while ``cpu_percent`` is low
  means other processes took the machine: it was overloaded, the engine was not.
- ``loop_lag_p99_us``: how late a bare gevent timer fires (`LoopProbe`). Send lag close
  to it means the dispatcher adds nothing of its own on top of the event loop.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import gevent
import numpy as np
import psutil

PROBE_INTERVAL_S = 0.01  # the probe's timer: 100 wake-ups a second cost well under 0.1 % CPU
#: the event loop's thread (greenlets all run on the process's main thread)
SCHEDSTAT = Path(f"/proc/self/task/{os.getpid()}/schedstat")


def _run_queue_wait_s() -> float | None:
    """Seconds the main thread has spent runnable but not running (None off Linux)."""
    try:
        fields = SCHEDSTAT.read_text().split()
    except OSError:
        return None
    return int(fields[1]) / 1e9


class LoopProbe:
    """A greenlet that sleeps `PROBE_INTERVAL_S` over and over and notes how late it wakes."""

    def __init__(self) -> None:
        self.lags_s: list[float] = []
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)

    def _run(self) -> None:
        clock = time.perf_counter
        while True:
            before = clock()
            gevent.sleep(PROBE_INTERVAL_S)
            self.lags_s.append(clock() - before - PROBE_INTERVAL_S)  # the list is swapped

    def take_p99_us(self) -> int | None:
        lags, self.lags_s = self.lags_s, []
        if not lags:
            return None
        return int(np.percentile(np.asarray(lags), 99) * 1e6)


class ProcessHealth:
    """CPU, CPU wait and event-loop lag of this process since the previous `sample`."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)
        self._wait = _run_queue_wait_s()
        self._at = time.monotonic()
        self.probe = LoopProbe()

    def sample(self) -> dict[str, Any]:
        now, wait = time.monotonic(), _run_queue_wait_s()
        elapsed = max(now - self._at, 1e-6)
        cpu_wait = None
        if wait is not None and self._wait is not None:
            cpu_wait = round(min((wait - self._wait) / elapsed * 100.0, 100.0), 1)
        self._at, self._wait = now, wait
        return {
            "cpu_percent": self._process.cpu_percent(None),
            "cpu_wait_percent": cpu_wait,
            "loop_lag_p99_us": self.probe.take_p99_us(),
        }
