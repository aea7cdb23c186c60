"""The master's book of how a run ends: parts and rows per worker, failures, departures.

`FleetController` keeps one `EndingBook` and feeds it every worker health report. At
the end it asks the book to collect the workers' last reports (`collect_final`), who
stopped the run when the master did not decide it itself (`outside_stop`), what makes
the run incomplete (`incomplete_reasons`) and its manifest fields (`manifest_fields`:
per-part row counts, failures, workers that left, why the records are incomplete).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gevent

from surge.locustfiles.endings import FINAL_REPORT_WAIT_S, MSG_STOP, read_note
from surge.manifest import Abort, AbortedBy
from surge.results import drop_superseded, is_compacted

logger = logging.getLogger(__name__)

FINAL_POLL_S = 0.1


class EndingBook:
    """What the master knows about the end of a run, from the workers' reports.

    Attributes:
        parts: ``<worker>/<part file>`` -> rows, for every part a worker reported written.
        counted: worker -> requests the master counted from its health reports.
        failures: worker -> its failure (a full disk), as it reported it.
        left: workers that finished their part and left before the run's end (a spot
            notice, a full disk): not lost, their share went to the others.
    """

    def __init__(self) -> None:
        self.parts: dict[str, int] = {}
        self.counted: collections.Counter[str] = collections.Counter()
        self.failures: dict[str, dict[str, Any]] = {}
        self.left: list[dict[str, Any]] = []

    def on_health(self, worker: str, data: dict[str, Any]) -> None:
        self.counted[worker] += sum(data.get("outcomes", {}).values())
        reported = data.get("parts") or {}
        for name, rows in reported.items():
            self.parts[f"{worker}/{name}"] = int(rows)
        if any(is_compacted(name) for name in reported):
            # a day-long run writes ~17,000 small parts per worker: forget the ones a
            # compacted file now covers, so the book stays as small as the files on disk
            self.parts = drop_superseded(self.parts)
        failure = data.get("failure")
        if failure and worker not in self.failures:
            logger.error("worker %s: %s", worker, failure)
            self.failures[worker] = {"id": worker, "what": str(failure), "at": _iso_now()}

    def worker_left(self, worker: str, share: int) -> None:
        """A worker that said it was done left while the run went on."""
        entry = {"id": worker, "left_at": _iso_now(), "share": share}
        if worker in self.failures:
            entry["why"] = self.failures[worker]["what"]
        self.left.append(entry)
        logger.warning("worker %s finished early and left; re-splitting", worker)

    def collect_final(
        self,
        *,
        send: Callable[[str], None] | None,
        pending: Callable[[], Iterable[str]],
        wait_s: float = FINAL_REPORT_WAIT_S,
    ) -> list[str]:
        """Ask workers still sending to stop (`send(client_id)`), wait for their last
        reports (bounded); returns the client ids that never answered."""
        waiting = list(pending())
        if send is not None:
            for client_id in waiting:
                try:
                    send(client_id)
                except Exception:  # a worker gone meanwhile: Locust's bookkeeping drops it
                    logger.debug("stop not sent to %s", client_id, exc_info=True)
        deadline = time.monotonic() + wait_s
        while waiting and time.monotonic() < deadline:
            gevent.sleep(FINAL_POLL_S)
            waiting = list(pending())
        if waiting:
            logger.warning("no final report from %s within %gs", waiting, wait_s)
        return waiting

    def incomplete_reasons(self, hard_end: bool) -> list[str]:
        reasons = [f"worker {w}: {f['what']}" for w, f in sorted(self.failures.items())]
        if hard_end:
            reasons.append("the hard end was reached before the run ended by itself")
        return reasons

    def lost_detail(self, lost: dict[str, Any]) -> dict[str, Any]:
        """A lost worker's entry with how many of its records are known to be missing."""
        worker = str(lost.get("id"))
        prefix = f"{worker}/"
        in_parts = sum(r for k, r in self.final_parts().items() if k.startswith(prefix))
        counted = self.counted[worker]
        return {**lost, "records_counted": counted, "records_in_parts": in_parts,
                "records_missing": max(counted - in_parts, 0)}  # fmt: skip

    def final_parts(self) -> dict[str, int]:
        """The parts on disk now: workers compact as the run goes and at its end, and
        report the compacted files; the small parts they replaced are dropped."""
        return drop_superseded(self.parts)

    def manifest_fields(self, incomplete: list[str]) -> dict[str, Any]:
        """`Manifest` keyword arguments: parts, worker_failures, left_workers, incomplete."""
        return {
            "parts": dict(sorted(self.final_parts().items())),
            "worker_failures": list(self.failures.values()),
            "left_workers": list(self.left),
            "incomplete": list(incomplete),
        }


def outside_stop(run_dir: Path, hard_end_epoch: float) -> Abort:
    """Who stopped a run the master did not end itself: the agent's note (kill switch,
    hard end), the hard end by the clock, else a person (Ctrl-C, SIGTERM, web UI)."""
    note = read_note(run_dir)
    if note is not None:
        return note
    now = dt.datetime.now(dt.UTC)
    if hard_end_epoch and time.time() >= hard_end_epoch:
        return Abort("the hard end was reached", AbortedBy.HARD_END, now)
    return Abort(
        "stopped before the schedule's end (Ctrl-C, SIGTERM or the web UI's stop)",
        AbortedBy.PERSON,
        now,
    )


def _iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


__all__ = ["MSG_STOP", "EndingBook", "outside_stop"]
