"""A generator that falls behind by itself: late sends are dropped, a frozen worker is not lost.

The `hog.py` fixture freezes a process's event loop for 1.5 s (as an overloaded machine
would). Arrivals due meanwhile can only go out late; those that would go out more than
`max_lateness` after their intended time must be recorded as dropped and never sent,
even though slots are free (the dispatcher itself was late). The frozen process also
misses its beats for longer than the master's silence limit, which must not make it a
lost worker: standalone, it is the whole run; distributed, it is alive on this host.
"""

from __future__ import annotations

import pytest

from surge.provisioning.local import run_local
from surge.results import read_manifest
from tests.helpers.locust import FIXTURES, http_target, requests_of, write_schedule

pytestmark = pytest.mark.integration

MAX_LATENESS_US = 300_000
SEND_SLACK_US = 100_000  # between the lateness check and the client's own send time
RATE = 50


def _run(tmp_path, workers: int):
    with http_target() as url:
        schedule = write_schedule(
            tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "hog.py"),
            stages=f"{{rps: {RATE}, duration: 5s}}",
            extra="arrivals: uniform\nlimits: {max_lateness: 300ms, max_in_flight: 100}\n",
        )  # fmt: skip
        run_local(schedule, tmp_path / "run", workers=workers, run_id=f"hog{workers}")
    return requests_of(tmp_path / "run"), read_manifest(tmp_path / "run")


def test_sends_later_than_max_lateness_are_dropped_and_standalone_is_never_lost(tmp_path):
    df, manifest = _run(tmp_path, workers=0)
    assert len(df) == RATE * 5  # every arrival is a row: sent or dropped
    dropped = df[df.outcome == "dropped"]
    # 1.5 s frozen: about 60 arrivals were due more than 300 ms before the loop came back
    assert len(dropped) >= 30, df.outcome.value_counts()
    assert dropped.sent_us.isna().all()
    assert dropped.error.str.contains("max_lateness").all()
    sent = df[df.outcome != "dropped"]
    lag = sent.sent_us - sent.intended_us
    assert lag.max() < MAX_LATENESS_US + SEND_SLACK_US, f"sent {lag.max() / 1000:.0f} ms late"
    assert manifest.lost_workers == []
    assert not any("lost" in r for r in manifest.untrustworthy)


def test_frozen_but_alive_worker_stays_in_the_fleet(tmp_path):
    df, manifest = _run(tmp_path, workers=2)
    # neither taken out of the split for good (lost) nor for a while (stalled, then back)
    assert manifest.lost_workers == [], manifest.lost_workers
    assert manifest.stalled_workers == [], manifest.stalled_workers
    assert df.worker.nunique() == 2
    assert len(df) == RATE * 5  # no share was offered twice or skipped
