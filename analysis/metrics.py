"""Per-group outcome counts, rates and exact latency percentiles: the report's one vocabulary.

Definitions (the same for a second, a stage and the whole run; README "Reports"):

- ``requests``: every record, dropped ones included (the schedule offered them).
- ``success_rate`` = (ok + rejected) / requests. A 409 sold-out answer ("rejected") is a
  correct business answer, so it counts as success. Dropped requests count against it:
  the shopper got no answer.
- ``error_rate`` = (error + timeout) / requests; ``dropped_rate`` = dropped / requests.
  The three add up to 1. ``throttled_rate`` (a part of the errors) = throttled / requests.
- Latency percentiles (``p50`` ... ``max``, ``avg``) are over every request that was
  sent (all outcomes but dropped), corrected: from the intended send time. The
  ``*_uncorrected`` columns use the service time (from the actual send).
- ``achieved_rps`` = successful answers per second (ok + rejected), computed by callers
  that know the window length. The ``rps`` threshold metric is the same over the whole
  schedule's duration.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from surge.analysis.loading import OUTCOMES, RunData
from surge.analysis.percentiles import PERCENTILES, grouped_stats, small_codes
from surge.trust import outcome_rates, successful

US = 1_000_000.0
LATENCY_NAMES: tuple[str, ...] = ("p50", "p90", "p95", "p99", "p999", "max")
COUNT_NAMES: tuple[str, ...] = ("ok", "rejected", "error", "timeout", "dropped")
assert len(LATENCY_NAMES) == len(PERCENTILES)
assert len(COUNT_NAMES) == len(OUTCOMES)


def outcome_counts(frame: pd.DataFrame, codes: np.ndarray, n_groups: int) -> pd.DataFrame:
    """Counts by outcome (and throttled) per group; rows with a negative code are ignored.

    Codes are shifted by one so that ignored rows count in a group -1 that is dropped:
    no row is selected or copied first."""
    outcome = frame["outcome"].to_numpy()
    throttled = frame["throttled"].to_numpy()
    width = len(OUTCOMES)
    shifted = np.maximum(codes, -1).astype(np.int32 if (n_groups + 1) * width < 2**31 else np.int64)
    shifted += 1
    combined = shifted * width
    combined += outcome
    counts = np.bincount(combined, minlength=(n_groups + 1) * width)
    counts = counts.reshape(n_groups + 1, width)[1:]
    out = pd.DataFrame(counts, columns=list(COUNT_NAMES))
    out["throttled"] = np.bincount(shifted[throttled], minlength=n_groups + 1)[1:]
    out["requests"] = counts.sum(axis=1)
    return out


def add_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """success/error/dropped/timeout/throttled rates from counts (NaN for empty groups)."""
    total = counts["requests"].where(counts["requests"] > 0)
    return counts.assign(
        **outcome_rates(counts, total),  # the master's live formulas too (surge.trust)
        timeout_rate=counts["timeout"] / total,
        throttled_rate=counts["throttled"] / total,
    )


def latency_table(
    run: RunData, codes: np.ndarray, n_groups: int, *, uncorrected: bool = False
) -> pd.DataFrame:
    """Exact percentiles and mean (seconds) of corrected latency per group, sent requests
    only; with `uncorrected`, the service-time percentiles beside them (computed in a
    second thread: NumPy sorts release the GIL, so the two sorts overlap)."""
    with ThreadPoolExecutor(1) as pool:
        service = run.requests["service_us"].to_numpy()
        other = pool.submit(grouped_stats, service, codes, n_groups) if uncorrected else None
        stats = grouped_stats(run.sent_latency, codes, n_groups)
        service_stats = other.result() if other is not None else None
    out = pd.DataFrame(stats.percentiles / US, columns=list(LATENCY_NAMES))
    counts = stats.counts
    out["avg"] = np.where(counts > 0, stats.sums / np.maximum(counts, 1) / US, np.nan)
    if service_stats is not None:
        for j, name in enumerate(LATENCY_NAMES):
            out[f"{name}_uncorrected"] = service_stats.percentiles[:, j] / US
    return out


def group_summary(
    run: RunData, codes: np.ndarray, n_groups: int, *, uncorrected: bool = False
) -> pd.DataFrame:
    """Counts, rates and latency percentiles per group, one row per group code."""
    codes = small_codes(codes, n_groups)
    counts = outcome_counts(run.requests, codes, n_groups).pipe(add_rates)
    latency = latency_table(run, codes, n_groups, uncorrected=uncorrected)
    return pd.concat([counts, latency], axis=1)


def answered(summary: pd.DataFrame) -> pd.Series:
    """Successful answers (ok + rejected) per group."""
    return successful(summary)
