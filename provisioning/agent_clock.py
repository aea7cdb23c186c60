"""Time for the instance agent: clock offset, waiting for start_at, refusing a stale start.

A fleet starts together only if every instance's clock agrees and every
instance is on time. An instance that boots late (replaced by its auto-scaling
group, say) must not fire a desynchronised load, so beyond `STALE_START_S` it
refuses.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
from collections.abc import Callable

from surge.errors import SurgeError

STALE_START_S = 30.0  # later than this after start_at and the agent refuses to start
WAIT_SLICE_S = 0.5  # how often a waiting agent checks whether it should give up
CHRONY_TIMEOUT_S = 3.0


class StaleStartError(SurgeError):
    """The instance is too late for the schedule's start time (exit code 2: the
    schedule, not the machine, is what must change to run again)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_not_stale(start_at: dt.datetime, now: dt.datetime | None = None) -> float:
    """Seconds until `start_at` (negative when late); raises when later than allowed."""
    until = (start_at - (now or utcnow())).total_seconds()
    if -until > STALE_START_S:
        raise StaleStartError(
            f"{-until:.0f}s after start_at {start_at.isoformat()}, more than "
            f"{STALE_START_S:g}s: refusing to start a desynchronised load",
            "start_at",
        )
    return until


def wait_until(moment: dt.datetime, should_stop: Callable[[], bool] = lambda: False) -> bool:
    """Sleep until `moment` (wall clock), checking `should_stop` every slice.

    Returns False when stopped early. Sleeps in slices so a kill switch pulled
    before the start still takes effect, and ends on the wall clock (not a
    monotonic estimate) because start_at is a wall-clock time.
    """
    while True:
        left = (moment - utcnow()).total_seconds()
        if left <= 0:
            return True
        if should_stop():
            return False
        time.sleep(min(left, WAIT_SLICE_S))


def chrony_offset_ms() -> float | None:
    """This host's offset from true time as chrony measures it (Amazon Time Sync on EC2)."""
    chronyc = shutil.which("chronyc")
    if not chronyc:
        return None
    try:
        out = subprocess.run(
            [chronyc, "-c", "tracking"],
            capture_output=True,
            text=True,
            timeout=CHRONY_TIMEOUT_S,
            check=True,
        ).stdout
        # CSV: ref id, ref name, stratum, ref time, system time offset (s), ...
        return float(out.split(",")[4]) * 1000.0
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


def http_date_offset_ms(server_time: Callable[[], float | None]) -> float | None:
    """Offset of the local clock from a server's HTTP Date (1 s resolution: a sanity check).

    The server's second is compared with the middle of the request; positive
    means the local clock is ahead.
    """
    before = time.time()
    try:
        remote = server_time()
    except SurgeError:
        return None
    after = time.time()
    if remote is None:
        return None
    return ((before + after) / 2.0 - (remote + 0.5)) * 1000.0
