"""The master's side of a capacity search (`load.search`): hold, judge, steer.

The decisions are `surge.search.KneeSearch`'s; this module gives it time and data.
Each step is judged on its steady window (after `settle_s`, to the hold's end) from the
workers' one-second health samples whose whole second lies in the window: outcome
counts and latency histograms are added across workers, percentiles are read from the
sum (never averaged). The next step is appended to the stages and sent to the workers
in the plan they already get (`Plan.stages`), to start when the recovery after the
judged step ends, or as soon as the plan can reach them if the judgement came late.
Before that instant the workers' rate is unchanged, so no arrival is sent twice or
skipped (`locustfiles.arrivals.ArrivalStream.restage`).

A step is:
- *generators* when a worker's CPU was saturated, or when arrivals were dropped or
  sent late while what *was* sent met the service level (the generators, not the
  target, fell short: a tiny `max_in_flight`, too few workers);
- *fail* when what was sent missed the service level (a slow target also fills the
  slots and drops arrivals: that is the target's failure);
- *pass* otherwise.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from surge import trust
from surge.locustfiles import histogram
from surge.locustfiles.live_endpoints import Window, matches
from surge.schedule import Schedule
from surge.search import KneeSearch, SearchSpec, StepVerdict, stages_for

logger = logging.getLogger(__name__)

#: a step is judged once every worker reported a sample ending after the hold, or this
#: long after the hold's end (a silent worker must not stall the search)
JUDGE_WAIT_MAX_S = 5.0
#: a step's window holds few sends (40 at 20/s over 2 s), where p99 is the maximum: one
#: hiccup of a busy machine is not a generator that cannot keep up, a pattern is
MIN_LATE_SENDS = 5
PLAN_MARGIN_S = 0.2  # beyond RESPLIT_DELAY_S: a plan must reach the workers before it applies


@dataclass
class _Sample:
    worker: str
    end_s: float  # epoch seconds: the sample covers the second before it
    outcomes: dict[str, int]
    corrected: dict[int, int]
    uncorrected: dict[int, int]
    lag: dict[int, int]
    cpu_percent: float
    sent: int
    in_flight: int
    endpoints: dict[str, Any]  # per endpoint label, for thresholds scoped to one (#16)


@dataclass
class StepRecord:
    """One step as it ran: when, which stage, what the live data said."""

    rate: float
    start_s: float  # offset from the run's start
    stage: int
    phase: str
    verdict: str | None = None
    reason: str = ""
    measured: dict[str, float | None] = field(default_factory=dict)
    requests: int = 0


class SearchDriver:
    """Runs a `KneeSearch` on the master. Ticked by `FleetController`'s control loop.

    Attributes:
        spec: the schedule's `load.search`.
        search: the pure decisions.
        steps: what ran, in order (`StepRecord`).
    """

    def __init__(self, *, controller: Any, spec: SearchSpec) -> None:
        self.controller = controller
        self.spec = spec
        self.search = KneeSearch(spec)
        self.steps: list[StepRecord] = []
        self._starts: list[tuple[float, float]] = []  # (rate, start_s) of every step
        self._samples: list[_Sample] = []
        self._last_end: dict[str, float] = {}
        rate = self.search.next_rate(0.0)  # the first step is in the schedule already
        assert rate is not None
        self._add_step(rate, 0.0)

    # ------------------------------------------------------------------ data in
    def on_health(self, data: dict[str, Any]) -> None:
        end = data["time_us"] / 1e6
        self._samples.append(
            _Sample(
                worker=data["worker"], end_s=end, outcomes=dict(data["outcomes"]),
                corrected={int(k): v for k, v in data["hist_corrected"].items()},
                uncorrected={int(k): v for k, v in data["hist_uncorrected"].items()},
                lag={int(k): v for k, v in data["lag_hist"].items()},
                cpu_percent=float(data.get("cpu_percent") or 0.0), sent=int(data["sent"]),
                in_flight=int(data.get("in_flight") or 0), endpoints=data.get("endpoints") or {},
            )
        )  # fmt: skip
        self._last_end[data["worker"]] = max(end, self._last_end.get(data["worker"], 0.0))

    # ------------------------------------------------------------------ the loop
    def tick(self, now: float) -> None:
        """Judge the current step once its data is in, then steer to the next one."""
        if self.search.done or not self.steps or self.steps[-1].verdict is not None:
            return
        start_epoch = self.controller.start_epoch
        step = self.steps[-1]
        hold_end = start_epoch + step.start_s + self.spec.hold_s
        if now < hold_end or not self._data_in(hold_end, now):
            return
        verdict, reason, measured, requests = self._judge(start_epoch + step.start_s, hold_end)
        step.verdict, step.reason, step.measured, step.requests = (
            verdict.value, reason, measured, requests,
        )  # fmt: skip
        self.search.record(verdict, reason)
        logger.info("search step %g/s: %s %s", step.rate, verdict.value, reason)
        planned = step.start_s + self.spec.hold_s + self.spec.recovery
        earliest = now - start_epoch + self.controller.resplit_delay_s + PLAN_MARGIN_S
        next_start = max(planned, earliest)
        rate = self.search.next_rate(next_start)
        if rate is None:
            logger.info("search over: %s", self.search.end_reason)
            self._steer(
                stages_for(self._starts, self.spec, finished=True, end_s=earliest), earliest
            )
            return
        self._add_step(rate, next_start)
        self._steer(stages_for(self._starts, self.spec, finished=False), next_start)

    def stop(self) -> None:
        """The run ended before the search did (Ctrl-C, abort, lost master)."""
        self.search.stop("the run ended before the search did")

    def _add_step(self, rate: float, start_s: float) -> None:
        self._starts.append((rate, start_s))
        stages = stages_for(self._starts, self.spec, finished=False)
        stage = next(s.index for s in reversed(stages) if s.start_s == start_s)
        self.steps.append(StepRecord(rate, start_s, stage, self.search.phase.value))

    def _steer(self, stages: tuple, switch_s: float) -> None:
        """New stages from `switch_s` on (the same before it): the master's schedule
        follows them, and so do the workers through their plans."""
        schedule: Schedule = self.controller.schedule
        self.controller.schedule = dataclasses.replace(schedule, stages=stages)
        switch = self.controller.start_epoch + switch_s
        self.controller.send_plans(switch)
        self._samples = [s for s in self._samples if s.end_s >= switch - self.spec.hold_s]

    def plan_stages(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.controller.schedule.stages]

    def _data_in(self, hold_end: float, now: float) -> bool:
        members = [self.controller.workers[c].worker for c in self.controller.members
                   if c in self.controller.workers]  # fmt: skip
        if now >= hold_end + JUDGE_WAIT_MAX_S:
            return True
        return bool(members) and all(self._last_end.get(w, 0.0) >= hold_end for w in members)

    # ------------------------------------------------------------------ judging
    def _judge(
        self, step_start: float, hold_end: float
    ) -> tuple[StepVerdict, str, dict[str, float | None], int]:
        window_start = step_start + self.spec.settle_s
        inside = [s for s in self._samples if s.end_s - 1.0 >= window_start - 0.05
                  and s.end_s <= hold_end + 0.05]  # fmt: skip
        whole = [s for s in self._samples if step_start <= s.end_s <= hold_end + 0.05]
        if not inside:
            return StepVerdict.FAIL, "no live samples in the step's steady window", {}, 0
        seconds = max(len({round(s.end_s) for s in inside}), 1)
        merged = _merged(inside, None)
        lag: collections.Counter[int] = collections.Counter()
        for s in inside:
            lag.update(s.lag)
        measured, missed = {}, []
        for t in self.controller.schedule.thresholds:
            window = merged if t.name is None else _merged(inside, t.name)
            if window is None:  # the endpoint had no request in the window: not judged
                measured[t.rule] = None
                continue
            measured[t.rule] = self.controller._metric(t, window, seconds)
            # judged on what was sent: dropped arrivals are the generators' (see below)
            sent_only = dataclasses.replace(window, outcomes=window.outcomes.copy())
            sent_only.outcomes.pop("dropped", None)
            value = self.controller._metric(t, sent_only, seconds)
            if value is not None and not t.passes(value):
                missed.append(f"{t.rule} (measured {_shown(t, value)})")
        requests = sum(sum(s.outcomes.values()) for s in whole)
        saturated = _cpu_saturated(whole, trust.SATURATED_CPU_PERCENT, trust.SATURATED_CPU_SECONDS)
        if saturated:
            return StepVerdict.GENERATORS, saturated, measured, requests
        if missed:
            return StepVerdict.FAIL, "missed " + "; ".join(missed), measured, requests
        total = sum(merged.outcomes.values())
        dropped = merged.outcomes.get("dropped", 0)
        p99 = histogram.percentile_us(lag, 99)
        late = sum(
            n for k, n in lag.items() if histogram.bucket_value_us(k) > trust.MAX_SEND_LAG_P99_US
        )
        short = ""
        if total and dropped / total > trust.MAX_DROPPED_FRACTION:
            short = f"{dropped / total:.1%} of arrivals dropped"
        elif p99 is not None and p99 > trust.MAX_SEND_LAG_P99_US and late >= MIN_LATE_SENDS:
            short = f"send lag p99 {p99 / 1000:.0f} ms over {trust.MAX_SEND_LAG_P99_US / 1000:g} ms"
        if not short:
            return StepVerdict.PASS, "", measured, requests
        return StepVerdict.GENERATORS, short + self._why_behind(whole), measured, requests

    def _why_behind(self, samples: list[_Sample]) -> str:
        """Slots all busy (the target answered within the service level, just not fast
        enough for that many slots) or a generator that could not keep its own pace."""
        limit = self.controller.schedule.limits.max_in_flight
        if any(s.in_flight >= limit for s in samples):
            return (f": every slot was busy (limits.max_in_flight {limit} per worker); "
                    "raise it or add workers")  # fmt: skip
        return ": the generators fell behind their schedule"

    # ------------------------------------------------------------------ outputs
    def status(self) -> dict[str, Any]:
        """For status.json: the terminal line and the surge view show it."""
        lo, hi = self.search.bracket()
        current = self.steps[-1] if self.steps else None
        return {
            "phase": self.search.phase.value,
            "step": len(self.steps),
            "rate": current.rate if current else None,
            "bracket": [lo, hi],
            "knee": self.search.knee,
            "resolution": self.spec.resolution,
            "end": self.search.end.value if self.search.end else None,
            "end_reason": self.search.end_reason or None,
            "steps": [{"rate": s.rate, "verdict": s.verdict} for s in self.steps],
        }

    def record(self) -> dict[str, Any]:
        """For the manifest: what the report's search section is built from."""
        lo, hi = self.search.bracket()
        return {
            "spec": self.spec.to_dict(),
            "knee": self.search.knee,
            "bracket": [lo, hi],
            "end": self.search.end.value if self.search.end else None,
            "end_reason": self.search.end_reason,
            "steps": [dataclasses.asdict(s) for s in self.steps],
        }


def _merged(samples: list[_Sample], endpoint: str | None) -> Window | None:
    """The samples' counts and histograms added up, of the fleet or of one endpoint
    (None: that endpoint had no request in them)."""
    window, seen = Window(), False
    for s in samples:
        if endpoint is None:
            window.add({"outcomes": s.outcomes, "hist_corrected": s.corrected,
                        "hist_uncorrected": s.uncorrected})  # fmt: skip
            seen = True
            continue
        for label, figures in s.endpoints.items():
            if matches(endpoint, label, figures.get("name")):
                window.add(figures)
                seen = True
    return window if seen else None


def _cpu_saturated(samples: list[_Sample], percent: float, seconds: int) -> str:
    """A worker over `percent` CPU for `seconds` consecutive samples within the step."""
    by_worker: dict[str, list[_Sample]] = collections.defaultdict(list)
    for s in samples:
        by_worker[s.worker].append(s)
    for worker, rows in by_worker.items():
        run = 0
        for s in sorted(rows, key=lambda r: r.end_s):
            run = run + 1 if s.cpu_percent > percent else 0
            if run >= seconds:
                return f"worker {worker} over {percent:g}% CPU for {seconds}s"
    return ""


def _shown(threshold: Any, value: float) -> str:
    from surge.thresholds import MetricKind

    if threshold.kind is MetricKind.LATENCY:
        return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
    if threshold.kind is MetricKind.FRACTION:
        return f"{value:.2%}"
    return f"{value:.1f}/s" if math.isfinite(value) else str(value)
