"""Exact percentiles per group from merged raw values: one sort, reused by every grouping.

Percentiles are nearest-rank: the p-th percentile of n values is the value at rank
ceil(p/100 * n) in ascending order, so it is always a latency that really happened,
and `max` is p100.

Values are sorted once (`SortedValues`). A grouping (seconds, stages, request names)
then needs only a *stable* sort of its small integer group codes taken in value
order: that lists each group's values already in ascending order. Both sorts pack
(key, position) into one int64 and sort values, not indices (`_sort_order`), which
is several times faster than `np.argsort` and never runs per-group Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: the percentiles every latency summary carries (100 = max)
PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9, 100.0)


def nearest_rank(n: np.ndarray, percentile: float) -> np.ndarray:
    """0-based index of the nearest-rank percentile in groups of sizes `n` (integer math)."""
    permille = round(percentile * 10)
    rank = (np.asarray(n, dtype=np.int64) * permille + 999) // 1000
    return np.maximum(rank, 1) - 1


@dataclass(frozen=True)
class SortedValues:
    """The non-negative values of a column in ascending order, with their row numbers."""

    values: np.ndarray
    rows: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> SortedValues:
        values = np.asarray(values)
        rows = np.flatnonzero(values >= 0)
        kept = values[rows]
        order = _sort_order(kept)
        return cls(values=kept[order], rows=rows[order].astype(_index_type(len(values))))

    def __len__(self) -> int:
        return len(self.values)


def _index_type(n: int) -> type:
    return np.int32 if n < 2**31 else np.int64


def _sort_order(keys: np.ndarray) -> np.ndarray:
    """A stable ascending order of non-negative integer `keys`.

    (key << bits | position) packed in one int64 and sorted by value is about six
    times faster than `np.argsort` here (0.4 s against 2.5 s for 10 million); wider
    keys fall back to a stable argsort.
    """
    n = len(keys)
    bits = max(n - 1, 1).bit_length()
    top = int(keys.max()) if n else 0
    if top.bit_length() + bits > 62:
        return np.argsort(keys, kind="stable")
    packed = np.left_shift(keys.astype(np.int64), bits)
    np.bitwise_or(packed, np.arange(n, dtype=np.int64), out=packed)
    packed.sort()
    np.bitwise_and(packed, (1 << bits) - 1, out=packed)
    return packed


def small_codes(codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Group codes in the smallest signed type that holds them (-1 = no group)."""
    dtype = np.int16 if n_groups < 2**15 else np.int32 if n_groups < 2**31 else np.int64
    return np.asarray(codes).astype(dtype, copy=False)


def grouped_percentiles(
    sorted_values: SortedValues,
    codes: np.ndarray,
    n_groups: int,
    percentiles: Sequence[float] = PERCENTILES,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentiles per group `codes` (one per row of the original column, -1 = none).

    Returns (values per group, array [n_groups, len(percentiles)], NaN where empty).
    """
    out = np.full((n_groups, len(percentiles)), np.nan)
    group = small_codes(codes, n_groups + 1)[sorted_values.rows]
    group[group < 0] = n_groups  # one extra group collects the rows to ignore
    counts = np.bincount(group, minlength=n_groups + 1)
    # groups in turn, each ascending by value (stable); one group of everything is sorted
    whole = n_groups == 1 and counts[0] == len(group)
    order = None if whole else _sort_order(group)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[:n_groups]
    counts = counts[:n_groups]
    present = counts > 0
    for j, p in enumerate(percentiles):
        idx = starts[present] + nearest_rank(counts[present], p)
        out[present, j] = sorted_values.values[idx if order is None else order[idx]]
    return counts, out


def percentiles_of(values: np.ndarray, percentiles: Sequence[float] = PERCENTILES) -> np.ndarray:
    """Nearest-rank percentiles of one group of non-negative values (NaN when empty)."""
    values = np.asarray(values)
    values = values[values >= 0]
    if not len(values):
        return np.full(len(percentiles), np.nan)
    idx = [int(nearest_rank(np.array([len(values)]), p)[0]) for p in percentiles]
    part = np.partition(values, sorted(set(idx)))
    return part[idx].astype(float)
