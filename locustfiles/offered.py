"""The schedule's offered rate averaged over a span: the figure to set beside an achieved
rate measured over the same seconds.

The master's ``offered_rps`` is the rate at this instant while ``achieved_rps`` is what
came back over the last few complete seconds; right after a stage change the two differ
by the stage step (``30/3``) though nothing is wrong. ``status.json`` therefore also
carries the offered rate over the achieved window, and whole-run averages for after the
end.
"""

from __future__ import annotations

from typing import Any

from surge.schedule import Schedule
from surge.trust import successful


def mean_offered_rps(schedule: Schedule, start_s: float, end_s: float, workers: int = 1) -> float:
    """The schedule's mean offered rate over offsets [`start_s`, `end_s`) from its start.

    Exact: each stage's rate is linear, so its integral over a clipped span is a trapezoid.
    Time outside the schedule offers nothing.
    """
    span = end_s - start_s
    if span <= 0:
        return 0.0
    total = 0.0
    for stage in schedule.stages:
        lo = max(start_s, stage.start_s)
        hi = min(end_s, stage.start_s + stage.duration_s)
        if hi > lo:
            rate_lo = stage.rate_at(lo - stage.start_s)
            rate_hi = stage.rate_at(hi - stage.start_s)
            total += (rate_lo + rate_hi) / 2.0 * (hi - lo)
    mean = total / span
    return mean * workers if schedule.per_worker else mean


def whole_run(
    schedule: Schedule, *, elapsed_s: float, totals: Any, sent: int, workers: int
) -> dict[str, float] | None:
    """Whole-run averages (req/s) over the schedule time run so far: offered, achieved
    (successful answers, as the report) and sent. None before any time has passed."""
    seconds = min(elapsed_s, schedule.duration_s)
    if seconds <= 0:
        return None
    return {
        "seconds": round(seconds, 1),
        "offered_rps": round(mean_offered_rps(schedule, 0.0, seconds, workers), 2),
        "achieved_rps": round(successful(totals) / seconds, 2),
        "sent_rps": round(sent / seconds, 2),
    }
