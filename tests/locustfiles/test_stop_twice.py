"""Stopping a worker is idempotent: a second stop waits for the first (no processes).

The records lost on abort (issue 19) came from a worker's SIGTERM and its master's quit
arriving together: Locust's quit handler called the engine's stop a second time, that
call returned at once while the first was still draining, and Locust exited before the
last part was written. Here the first stop drains slowly in one greenlet while a
second stop is called from another; when the second returns, the part must be there.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import gevent
from locust.event import Events

from surge.locustfiles.recorder import Recorder
from surge.locustfiles.worker import WorkerEngine
from surge.results import list_parts


class SlowDrain:
    """A dispatcher whose in-flight requests take a while to answer."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.lags: list[float] = []
        self.sent = self.late = self.dropped = self.in_flight = 0

    def stop(self, keep_backlog: bool = False) -> None:
        pass

    def drain(self, timeout_s: float) -> None:
        for _ in range(20):  # answers keep arriving while the first stop drains
            gevent.sleep(0.01)
            self.recorder.record_dropped("late answer", time.time(), 0, time.time())


def test_a_second_stop_waits_until_the_first_wrote_the_last_part(tmp_path) -> None:
    env = SimpleNamespace(events=Events(), runner=None, process_exit_code=None)
    engine = WorkerEngine(environment=env, run_dir=tmp_path, worker_id="w1")
    engine.recorder = Recorder(run_dir=tmp_path, worker_id="w1")
    env.events.request.add_listener(engine.recorder.on_request)
    engine.dispatcher = SlowDrain(engine.recorder)  # type: ignore[assignment]
    for _ in range(5):
        engine.recorder.record_dropped("before", time.time(), 0, time.time())

    first = gevent.spawn(engine.stop)  # e.g. SIGTERM's shutdown
    gevent.sleep(0.02)  # the first stop is draining now
    engine.stop()  # e.g. the master's quit, 18 ms later

    assert first.dead or first.ready(), "the second stop returned while the first still ran"
    parts = list_parts(tmp_path)
    assert parts, "no part written before the second stop returned"
    import pyarrow.parquet as pq

    assert sum(pq.read_metadata(p).num_rows for p in parts) == 25
    assert engine.recorder.ledger.account()["rows_on_disk"] == 25
