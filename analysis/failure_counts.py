"""Failed requests counted by kind, a batch at a time, without a pandas group-by per batch.

The streamed report keeps one row per (endpoint, outcome, status, error text, stage,
stage window) with failures: count, first and last intended send, any throttled. A
batch has up to a million failed rows but only tens of kinds, so each row's key columns
are packed into one int64 (mixed radix over the batch's own ranges); kinds are the
distinct keys (a vectorised sort), and the aggregates bincounts and `ufunc.at` over the
kind of each row. The few rows per batch are merged with pandas (`merge`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["code", "outcome", "status", "error", "stage", "window"]
AGGREGATES = {"count": "sum", "first_us": "min", "last_us": "max", "throttled": "any"}
PACKED_LIMIT = 1 << 62


def reduce(
    columns: dict[str, np.ndarray], offset_us: np.ndarray, throttled: np.ndarray
) -> pd.DataFrame:
    """One batch's failed rows (`KEYS` columns, all the same length) -> one row per kind,
    indexed by `KEYS`, with count, first_us, last_us and throttled."""
    keys = np.zeros(len(offset_us), np.int64)
    span = 1
    for name in KEYS:
        values = columns[name].astype(np.int64, copy=False)
        low = int(values.min())
        width = int(values.max()) - low + 1
        span *= width
        if span >= PACKED_LIMIT:  # absurd ranges (ids in the billions): pandas does it
            return _by_pandas(columns, offset_us, throttled)
        keys *= width
        keys += values - low
    distinct = np.sort(keys)
    distinct = distinct[np.concatenate(([True], distinct[1:] != distinct[:-1]))]
    kind = np.searchsorted(distinct, keys)
    n = len(distinct)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, kind, offset_us)
    np.maximum.at(last, kind, offset_us)
    sample = np.empty(n, np.int64)
    sample[kind] = np.arange(len(kind))  # a row of each kind: its key columns
    index = pd.MultiIndex.from_arrays([columns[k][sample] for k in KEYS], names=KEYS)
    return pd.DataFrame(
        {
            "count": np.bincount(kind, minlength=n),
            "first_us": first,
            "last_us": last,
            "throttled": np.bincount(kind, weights=throttled, minlength=n) > 0,
        },
        index=index,
    )


def _by_pandas(
    columns: dict[str, np.ndarray], offset_us: np.ndarray, throttled: np.ndarray
) -> pd.DataFrame:
    frame = pd.DataFrame({**columns, "offset_us": offset_us, "throttled": throttled})
    return frame.groupby(KEYS, sort=False).agg(
        count=("offset_us", "size"),
        first_us=("offset_us", "min"),
        last_us=("offset_us", "max"),
        throttled=("throttled", "any"),
    )


def merge(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Reduced batches -> one row per kind."""
    both = pd.concat(parts)
    return both.groupby(level=list(range(len(KEYS))), sort=False).agg(AGGREGATES).rename_axis(KEYS)
