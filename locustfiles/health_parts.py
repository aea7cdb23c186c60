"""The master's generator health rows, written as parts so memory stays flat.

Every worker reports its health once a second; the master keeps those rows (one per
worker per second) only until the next health part: every `HEALTH_PART_INTERVAL_S`
they are written to ``health/part-NNNNN.parquet`` (`surge.results.write_health`,
atomic) and dropped. A day on 64 workers is ~5.5 million rows, which held in lists
would cost the master ~2 GB; in parts it costs one interval's worth. A master crash
loses at most the last interval of health (the requests are the workers' own parts).
"""

from __future__ import annotations

import collections
import logging
import time
from pathlib import Path
from typing import Any

from surge.results import HEALTH_PART_INTERVAL_S, write_health

logger = logging.getLogger(__name__)

#: health message keys kept per row (`surge.results.HEALTH_SCHEMA`, besides time and worker)
SAMPLE_KEYS = (
    "cpu_percent", "send_lag_p50_us", "send_lag_p99_us", "send_lag_max_us", "in_flight",
    "sent", "late", "dropped", "cpu_wait_percent", "loop_lag_p99_us",
)  # fmt: skip


class HealthParts:
    """Health rows since the last part, and the parts written so far.

    Attributes:
        rows: column -> values of the rows not yet written.
        seq: the next part's sequence number.
        interval_s: how often `maybe_write` writes a part.
    """

    def __init__(self, run_dir: Path, *, interval_s: float = HEALTH_PART_INTERVAL_S) -> None:
        self.run_dir = Path(run_dir)
        self.interval_s = interval_s
        self.rows: dict[str, list[Any]] = collections.defaultdict(list)
        self.seq = 0
        self._due = time.monotonic() + interval_s

    def add(self, data: dict[str, Any]) -> None:
        """One worker's health message (one second of it)."""
        self.rows["time_us"].append(data["time_us"])
        self.rows["worker"].append(data["worker"])
        for key in SAMPLE_KEYS:
            self.rows[key].append(data.get(key))

    def maybe_write(self) -> None:
        """Write a part when the interval has passed (called from the master's loop)."""
        if time.monotonic() >= self._due:
            self.write()

    def write(self) -> None:
        """Write the rows held as the next part and forget them (none held: nothing)."""
        self._due = time.monotonic() + self.interval_s
        if not self.rows.get("time_us"):
            return
        try:
            write_health(self.run_dir, self.rows, self.seq)
        except OSError:  # a full disk: keep them, the next attempt may succeed
            logger.exception("could not write health part %d", self.seq)
            return
        self.seq += 1
        self.rows = collections.defaultdict(list)
