"""Per-second timeline, in total and per request name.

A request belongs to the second of its *intended* send time for its outcome and
latency (so a stall shows where the shoppers felt it), to the second it was really
sent for ``sent``, and to the second its answer arrived for ``achieved``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from surge.analysis.loading import OK, REJECTED, RunData
from surge.analysis.metrics import group_summary

MAX_TIMELINE_S = 14 * 24 * 3600  # longer than any schedule (7 days) plus stragglers


def offered_at(stages: pd.DataFrame, t_s: np.ndarray) -> np.ndarray:
    """The schedule's fleet rate at offsets `t_s` (0 outside the schedule)."""
    if not len(stages):
        return np.zeros(len(t_s))
    starts = stages["start_s"].to_numpy()
    idx = np.searchsorted(starts, t_s, side="right") - 1
    inside = (idx >= 0) & (t_s < stages["end_s"].max())
    idx = np.clip(idx, 0, len(stages) - 1)
    start = starts[idx]
    dur = stages["duration_s"].to_numpy()[idx]
    r0 = stages["rate_from"].to_numpy()[idx]
    r1 = stages["rate_to"].to_numpy()[idx]
    frac = np.clip((t_s - start) / np.where(dur > 0, dur, 1.0), 0.0, 1.0)
    return np.where(inside, r0 + (r1 - r0) * frac, 0.0)


def timeline_length(run: RunData) -> int:
    """Seconds covered: the schedule, plus seconds in which late answers still arrived."""
    frame = run.requests
    last = max(
        math.ceil(run.duration_s),
        int(frame["sec"].max()) + 1 if len(frame) else 0,
        int(frame["done_sec"].max()) + 1 if len(frame) else 0,
    )
    return int(min(max(last, 1), MAX_TIMELINE_S))


def _second_codes(seconds: np.ndarray, n: int) -> np.ndarray:
    """Seconds as group codes, -1 outside [0, n) (usually none: no copy then)."""
    if not len(seconds) or (seconds.min() >= -1 and seconds.max() < n):
        return seconds
    return np.where((seconds >= 0) & (seconds < n), seconds, -1)


def _count_by_second(seconds: np.ndarray, n: int) -> np.ndarray:
    """Rows per second in [0, n); -1 (none) and out-of-range seconds are not counted."""
    codes = _second_codes(seconds, n)
    return np.bincount(codes + 1, minlength=n + 1)[1 : n + 1]  # -1 lands in bin 0


def add_offered(timeline: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """Offered req/s in each second: the schedule's rate at mid-second (exact for ramps)."""
    return timeline.assign(offered_rps=offered_at(stages, timeline["second"].to_numpy() + 0.5))


def add_throughput(timeline: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """`sent` by actual send second; `achieved` = successful answers by completion second."""
    n = len(timeline)
    outcome = frame["outcome"].to_numpy()
    good = (outcome == OK) | (outcome == REJECTED)
    done = np.where(good, frame["done_sec"].to_numpy(), -1)
    sent = frame["sent_sec"].to_numpy()  # -1 for dropped requests (`prepare_requests`)
    return timeline.assign(sent=_count_by_second(sent, n), achieved=_count_by_second(done, n))


def per_second(run: RunData) -> pd.DataFrame:
    """The total timeline: one row per second of the run."""
    n = timeline_length(run)
    frame = run.requests
    summary = group_summary(run, _second_codes(frame["sec"].to_numpy(), n), n, uncorrected=True)
    summary.insert(0, "second", np.arange(n))
    return summary.pipe(add_offered, run.stages).pipe(add_throughput, frame).pipe(_order_columns)


def per_second_by_name(run: RunData) -> pd.DataFrame:
    """The timeline per request name (e.g. browse, buy), seconds with requests only."""
    n = timeline_length(run)
    frame = run.requests
    names = frame["name"].cat.categories
    name_codes = frame["name"].cat.codes.to_numpy().astype(np.int64)
    secs = _second_codes(frame["sec"].to_numpy(), n)
    codes = np.where((secs >= 0) & (name_codes >= 0), name_codes * n + secs, -1)
    summary = group_summary(run, codes, n * len(names))
    summary.insert(0, "name", np.repeat(np.asarray(names, dtype=object), n))
    summary.insert(1, "second", np.tile(np.arange(n), len(names)))
    return summary[summary["requests"] > 0].reset_index(drop=True)


def _order_columns(timeline: pd.DataFrame) -> pd.DataFrame:
    first = ["second", "offered_rps", "requests", "sent", "achieved"]
    return timeline[first + [c for c in timeline.columns if c not in first]]
