"""Per-stage table in the original experiment's shape, over steady-state windows.

A hold stage is measured from `warmup_s` after it starts (at most half the stage)
to its end, so the transient after a rate change does not blur the stage's numbers.
Ramps are listed with their whole duration but marked not steady; the knee ignores
them. A request belongs to a window by its `stage` column and its intended time.
"""

from __future__ import annotations

import enum

import numpy as np
import pandas as pd

from surge.analysis.loading import ERROR, TIMEOUT, RunData
from surge.analysis.metrics import answered, group_summary

DEFAULT_WARMUP_S = 5.0  # seconds skipped at the start of every hold stage


class ErrorClass(enum.Enum):
    THROTTLED = "throttled"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    CLIENT = "4xx"
    SERVER = "5xx"


def add_windows(stages: pd.DataFrame, warmup_s: float = DEFAULT_WARMUP_S) -> pd.DataFrame:
    """Steady-state window per stage: holds skip `warmup_s` (at most half), ramps are whole."""
    steady = stages["kind"] == "hold"
    skip = np.minimum(max(warmup_s, 0.0), stages["duration_s"] / 2.0).where(steady, 0.0)
    return stages.assign(
        steady=steady,
        window_start_s=stages["start_s"] + skip,
        window_end_s=stages["end_s"],
        window_s=stages["end_s"] - stages["start_s"] - skip,
    )


def window_codes(frame: pd.DataFrame, windows: pd.DataFrame) -> np.ndarray:
    """Row position in `windows` of each request's stage window, -1 if outside any."""
    stage_ids = windows["stage"].to_numpy().astype(np.int64)
    if not len(stage_ids) or stage_ids.min() < 0:
        return np.full(len(frame), -1, np.int32)
    # lookup tables indexed by stage id + 1, so that any unknown stage maps to slot 0
    position = np.full(int(stage_ids.max()) + 2, -1, np.int32)
    position[stage_ids + 1] = np.arange(len(stage_ids))
    lo = np.full(len(position), np.iinfo(np.int64).max)
    hi = np.full(len(position), np.iinfo(np.int64).min)
    lo[stage_ids + 1] = np.ceil(windows["window_start_s"].to_numpy() * 1e6).astype(np.int64)
    hi[stage_ids + 1] = np.ceil(windows["window_end_s"].to_numpy() * 1e6).astype(np.int64)
    stage = frame["stage"].to_numpy().astype(np.int32) + 1
    slot = np.where((stage > 0) & (stage < len(position)), stage, 0)
    offset = frame["offset_us"].to_numpy()
    inside = (offset >= lo[slot]) & (offset < hi[slot])
    return np.where(inside, position[slot], -1)


ERROR_CLASSES: tuple[ErrorClass, ...] = tuple(ErrorClass)


def error_breakdown(frame: pd.DataFrame, codes: np.ndarray) -> pd.DataFrame:
    """Failed requests per window by class and status (window, error_class, status, count)."""
    outcome = frame["outcome"].to_numpy()
    failed = (codes >= 0) & ((outcome == ERROR) | (outcome == TIMEOUT))
    status = frame["status"].to_numpy()[failed]
    klass = np.select(
        [
            frame["throttled"].to_numpy()[failed],
            outcome[failed] == TIMEOUT,
            status < 100,
            status < 500,
        ],
        [0, 1, 2, 3],
        4,
    ).astype(np.int8)  # positions in ERROR_CLASSES: strings only after grouping
    errors = pd.DataFrame({"window": codes[failed], "error_class": klass, "status": status})
    counts = (
        errors.groupby(["window", "error_class", "status"]).size().rename("count").reset_index()
    )
    names = np.array([c.value for c in ERROR_CLASSES], dtype=object)
    return counts.assign(error_class=names[counts["error_class"].to_numpy()])


def describe_errors(breakdown: pd.DataFrame, n_windows: int) -> list[str]:
    """One human line per window: ``throttled 500 x1,234; timeout x12``."""
    lines = [""] * n_windows
    for window, rows in breakdown.groupby("window"):
        parts = []
        for (klass, status), count in (
            rows.groupby(["error_class", "status"])["count"]
            .sum()
            .sort_values(ascending=False)
            .items()
        ):
            label = klass if klass in ("timeout", "connection") else f"{klass} {status}"
            parts.append(f"{label} x{count:,}")
        lines[int(window)] = "; ".join(parts)
    return lines


def stage_table(run: RunData, warmup_s: float = DEFAULT_WARMUP_S) -> pd.DataFrame:
    """One row per stage: offered (total, per worker), achieved, percentiles, rates, errors."""
    windows = add_windows(run.stages, warmup_s)
    codes = window_codes(run.requests, windows)
    summary = group_summary(run, codes, len(windows), uncorrected=True)
    return stage_table_from(windows, summary, error_breakdown(run.requests, codes), run.workers)


def stage_table_from(
    windows: pd.DataFrame, summary: pd.DataFrame, breakdown: pd.DataFrame, workers: int
) -> pd.DataFrame:
    """The stage table from its aggregates: `group_summary` per window and the
    `error_breakdown` (shared by the in-memory and the streamed report)."""
    table = pd.concat([windows.reset_index(drop=True), summary], axis=1)
    span = table["window_s"].where(table["window_s"] > 0)
    by_class = breakdown.pivot_table(
        index="window", columns="error_class", values="count", aggfunc="sum", fill_value=0
    ).reindex(index=range(len(windows)), columns=[c.value for c in ErrorClass], fill_value=0)
    table = table.assign(
        offered_per_worker=table["offered_rps"] / max(workers, 1),
        achieved_rps=answered(table) / span,
        sent_rps=(table["requests"] - table["dropped"]) / span,
        errors=describe_errors(breakdown, len(windows)),
        **{f"errors_{c.value}": by_class[c.value].to_numpy() for c in ErrorClass},
    )
    return table


def steady(table: pd.DataFrame) -> pd.DataFrame:
    """The hold stages that recorded requests: the ones the knee and comparisons use."""
    return table[table["steady"] & (table["requests"] > 0)]
