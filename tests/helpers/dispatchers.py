"""A surge dispatcher in the test's own process: one user class, uniform arrivals at a
constant rate, aimed at a closed port (tasks that need a server bring their own)."""

from __future__ import annotations

import time
from pathlib import Path

from locust.env import Environment

from surge.locustfiles.arrivals import ArrivalStream, CumulativeRate, Split
from surge.locustfiles.dispatcher import Dispatcher, TaskPicker
from surge.locustfiles.recorder import Recorder
from surge.schedule import Arrivals, parse_schedule


def uniform_dispatcher(
    run_dir: Path,
    user_class: type,
    *,
    rps: float,
    seconds: float,
    lead_s: float,
    max_in_flight: int,
    timeout_s: float,
    hard_end_s: float,
) -> Dispatcher:
    """A dispatcher starting `lead_s` from now, its hard end `hard_end_s` after that."""
    schedule = parse_schedule(
        "name: t\ntarget: http://127.0.0.1:9\narrivals: uniform\n"
        f"load:\n  stages:\n    - {{rps: {rps:g}, duration: {seconds:g}s}}\n"
    )
    start = time.time() + lead_s
    return Dispatcher(
        environment=Environment(user_classes=[user_class]),
        user_class=user_class,
        picker=TaskPicker(user_class, {}),
        recorder=Recorder(run_dir=run_dir, worker_id="w"),
        stream=ArrivalStream(CumulativeRate(schedule.stages), Arrivals.UNIFORM, Split(0, 0, 1)),
        start_epoch=start,
        hard_end_epoch=start + hard_end_s,
        max_in_flight=max_in_flight,
        max_lateness_s=1.0,
        allow_hosts=schedule.allow_hosts,
        timeout_s=timeout_s,
    )
