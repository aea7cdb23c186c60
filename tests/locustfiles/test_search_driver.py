"""The master's search driver (`locustfiles.search`): windows, verdicts, steering.

The controller here is a stand-in holding only what the driver reads (the run's start,
its schedule, its members) and recording the plans it is asked to send; metrics are
computed by the real `FleetController._metric`. End to end, with real Locust processes
and the reference shop, the same driver is tested in tests/runs/test_search.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from surge.locustfiles.fleet import FleetController
from surge.locustfiles.histogram import bucket_counts
from surge.locustfiles.search import SearchDriver
from surge.schedule import StageKind, parse_schedule

START = 1_000_000.0
SCHEDULE = """\
name: s
target: http://127.0.0.1:8080
load:
  search: {from: 100, max: 400, hold: 4s, resolution: 10%, recovery: 3s}
limits: {max_in_flight: 50}
thresholds: [p95 < 1s, success_rate >= 99%]
"""


@dataclass
class _Worker:
    worker: str


@dataclass
class Controller:
    schedule: Any
    start_epoch: float = START
    members: tuple[str, ...] = ("c1", "c2")
    workers: dict[str, _Worker] = field(
        default_factory=lambda: {"c1": _Worker("w1"), "c2": _Worker("w2")}
    )
    plans: list[float] = field(default_factory=list)
    resplit_delay_s: float = 0.3
    _metric = FleetController._metric

    def send_plans(self, switch: float) -> None:
        self.plans.append(switch)


def health(worker: str, end_s: float, *, ok: int = 50, error: int = 0, dropped: int = 0,
           latency_s: float = 0.01, lag_s: float = 0.001, in_flight: int = 1,
           cpu: float = 20.0) -> dict[str, Any]:  # fmt: skip
    sent = ok + error
    return {
        "worker": worker, "time_us": int(end_s * 1e6), "sent": sent, "in_flight": in_flight,
        "outcomes": {k: v for k, v in (("ok", ok), ("error", error), ("dropped", dropped)) if v},
        "hist_corrected": bucket_counts(np.full(sent, latency_s * 1e6)),
        "hist_uncorrected": bucket_counts(np.full(sent, latency_s * 1e6)),
        "lag_hist": bucket_counts(np.full(sent, lag_s * 1e6)), "cpu_percent": cpu,
    }  # fmt: skip


def hold_step(driver: SearchDriver, start_s: float, **sample: Any) -> None:
    """Both workers report once a second through a 4 s step starting at `start_s`."""
    for k in range(1, 6):
        for w in ("w1", "w2"):
            driver.on_health(health(w, START + start_s + k + 0.3, **sample))


def make() -> tuple[Controller, SearchDriver]:
    schedule = parse_schedule(SCHEDULE)
    controller = Controller(schedule)
    return controller, SearchDriver(controller=controller, spec=schedule.search)


def test_a_passing_step_raises_the_rate_after_the_recovery():
    controller, driver = make()
    hold_step(driver, 0.0)
    driver.tick(START + 3.0)  # the hold is not over: nothing is judged
    assert controller.plans == []
    driver.tick(START + 5.4)  # both workers reported past the hold's end
    assert driver.steps[0].verdict == "pass"
    assert controller.plans == [START + 7.0]  # hold 4 s + recovery 3 s
    stages = controller.schedule.stages
    assert [(s.kind, s.start_s, s.rate_to) for s in stages] == [
        (StageKind.HOLD, 0.0, 100), (StageKind.RECOVERY, 4.0, 100),
        (StageKind.HOLD, 7.0, 200), (StageKind.RECOVERY, 11.0, 100),
    ]  # fmt: skip
    assert driver.plan_stages()[2]["rate_to"] == 200
    assert driver.status()["bracket"] == [100, None]


def test_failing_latency_fails_the_step_and_bisects():
    controller, driver = make()
    hold_step(driver, 0.0, latency_s=2.0)
    driver.tick(START + 5.4)
    assert driver.steps[0].verdict == "fail"
    assert "p95 < 1s" in driver.steps[0].reason
    assert driver.search.end is not None  # `from` failed: below the test
    assert controller.schedule.stages[-1].end_s == controller.plans[-1] - START


def test_drops_with_busy_slots_are_the_generators_not_the_target():
    _controller, driver = make()
    hold_step(driver, 0.0, dropped=5, in_flight=50)
    driver.tick(START + 5.4)
    assert driver.steps[0].verdict == "generators"
    assert "limits.max_in_flight 50" in driver.steps[0].reason
    assert driver.search.end.value == "generators"


def test_drops_while_the_target_fails_are_the_targets_failure():
    _controller, driver = make()
    hold_step(driver, 0.0, ok=40, error=10, dropped=5, in_flight=50)
    driver.tick(START + 5.4)
    assert driver.steps[0].verdict == "fail"


def test_a_late_plan_starts_the_next_step_when_it_can_reach_the_workers():
    controller, driver = make()
    hold_step(driver, 0.0)
    driver.tick(START + 9.0)  # judged late (a starved master): 2 s after the planned start
    assert controller.plans[-1] > START + 9.0
    assert driver.steps[-1].start_s == controller.plans[-1] - START


def test_only_whole_seconds_inside_the_steady_window_count():
    _controller, driver = make()
    # a failing second in the settling half (1-2 s) must not count; the steady half passes
    driver.on_health(health("w1", START + 1.3, latency_s=5.0))
    driver.on_health(health("w2", START + 1.3, latency_s=5.0))
    hold_step(driver, 2.0 - 1.0)  # samples ending at 2.3 .. 6.3 s
    driver.tick(START + 5.4)
    assert driver.steps[0].verdict == "pass", driver.steps[0].reason


def test_a_run_ended_early_says_the_search_was_stopped():
    _controller, driver = make()
    driver.stop()
    assert driver.record()["end"] == "stopped"
    assert driver.search.next_rate() is None


def test_a_restaged_stream_keeps_every_arrival_before_the_switch():
    """The workers' side of steering: new stages from the switch on, the same before it,
    so nothing is sent twice or skipped; after it the new step's rate applies."""
    import random

    from surge.locustfiles.arrivals import ArrivalStream, CumulativeRate, Split
    from surge.schedule import Arrivals
    from surge.search import stages_for

    spec = parse_schedule(SCHEDULE).search
    first = stages_for([(100, 0.0)], spec, finished=False)
    second = stages_for([(100, 0.0), (200, 7.0)], spec, finished=False)

    def offsets(stream: ArrivalStream, until_s: float) -> list[float]:
        out = []
        while (nxt := stream.peek()) is not None and nxt[0] < until_s:
            out.append(nxt[0])
            stream.take()
        return out

    plain = ArrivalStream(CumulativeRate(second), Arrivals.UNIFORM, Split(0, 0, 1))
    steered = ArrivalStream(CumulativeRate(first), Arrivals.UNIFORM, Split(0, 0, 1),
                            rng=random.Random(1))  # fmt: skip
    before = offsets(steered, 6.0)
    steered.peek()  # an arrival already drawn under the old stages
    cumulative = CumulativeRate(second)
    steered.restage(cumulative, cumulative.at(7.0))
    after = offsets(steered, 11.0)
    assert before + after == offsets(plain, 11.0)
    assert len([t for t in after if 7.0 <= t < 11.0]) == 800  # 200/s for 4 s


def test_a_threshold_scoped_to_one_endpoint_judges_that_endpoint_alone():
    schedule = parse_schedule(
        SCHEDULE.replace("thresholds: [", "thresholds: ['p95{name=POST /buy} < 1s', ")
    )
    controller = Controller(schedule)
    driver = SearchDriver(controller=controller, spec=schedule.search)
    slow = {"outcomes": {"ok": 5}, "hist_corrected": bucket_counts(np.full(5, 2e6)),
            "hist_uncorrected": bucket_counts(np.full(5, 2e6))}  # fmt: skip
    for k in range(1, 6):
        for w in ("w1", "w2"):
            sample = health(w, START + k + 0.3)  # the fleet as a whole: 10 ms
            # purchases alone: 2 s; a fast GET of the same name is another endpoint
            fast = {**slow, "hist_corrected": bucket_counts(np.full(5, 1e3))}
            sample["endpoints"] = {
                "POST /buy": {**slow, "method": "POST", "name": "/buy"},
                "GET /buy": {**fast, "method": "GET", "name": "/buy"},
            }
            driver.on_health(sample)
    driver.tick(START + 5.4)
    assert driver.steps[0].verdict == "fail"
    assert driver.steps[0].reason.startswith("missed p95{name=POST /buy} < 1s (measured 2")


def test_one_late_send_in_a_small_window_is_not_a_generator_limit():
    """A p99 over a few dozen sends is their maximum: one hiccup must not end the search."""
    _controller, driver = make()
    for k in range(1, 6):
        for w in ("w1", "w2"):
            sample = health(w, START + k + 0.3, ok=20)
            if k == 3 and w == "w1":  # one send 80 ms late in the steady window
                sample["lag_hist"] = bucket_counts(np.array([1e3] * 19 + [80e3]))
            driver.on_health(sample)
    driver.tick(START + 5.4)
    assert driver.steps[0].verdict == "pass", driver.steps[0].reason


def test_late_sends_in_a_pattern_are_a_generator_limit():
    _controller, driver = make()
    hold_step(driver, 0.0, ok=20, lag_s=0.08)
    driver.tick(START + 5.4)
    assert driver.steps[0].verdict == "generators"
    assert driver.steps[0].reason.startswith("send lag p99 8")
