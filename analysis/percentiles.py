"""Exact percentiles per group from merged raw values: one sort per grouping, no Python loop.

Percentiles are nearest-rank: the p-th percentile of n values is the value at rank
ceil(p/100 * n) in ascending order, so it is always a latency that really happened,
and `max` is p100.

A grouping (seconds, stages, request names x seconds) packs each row's
(group code, value) into one int64 key, ``code << value_bits | value``, and sorts
the keys by value: that lists every group's values contiguously and in ascending
order, so a percentile is one index per group. Sorting 10 million int64 keys this
way takes ~0.3 s (NumPy's vectorised sort), several times faster than an argsort and
the gather it needs; keys too wide for 63 bits fall back to `np.lexsort`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: the percentiles every latency summary carries (100 = max)
PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9, 100.0)
KEY_BITS = 62  # packed keys and group bounds stay below `LEFT_OUT`
LEFT_OUT = np.iinfo(np.int64).max  # the key of a row left out: sorts after every group


def nearest_rank(n: np.ndarray, percentile: float) -> np.ndarray:
    """0-based index of the nearest-rank percentile in groups of sizes `n` (integer math)."""
    permille = round(percentile * 10)
    rank = (np.asarray(n, dtype=np.int64) * permille + 999) // 1000
    return np.maximum(rank, 1) - 1


def small_codes(codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Group codes in the smallest signed type that holds them (-1 = no group)."""
    dtype = np.int16 if n_groups < 2**15 else np.int32 if n_groups < 2**31 else np.int64
    return np.asarray(codes).astype(dtype, copy=False)


def sorted_by_group(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Non-negative `values` ordered by (group code, value); `codes` all in [0, n_groups).

    The general path, for keys too wide to pack (see `grouped_stats` for the fast one)."""
    values = values.astype(np.int64, copy=False)
    if n_groups == 1 or not len(values):
        return np.sort(values)
    return values[np.lexsort((values, codes))]


@dataclass(frozen=True)
class GroupStats:
    """Per group: how many values, their sum, and the requested percentiles (NaN: empty)."""

    counts: np.ndarray
    sums: np.ndarray
    percentiles: np.ndarray  # [n_groups, len(percentiles)]


def grouped_stats(
    values: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    percentiles: Sequence[float] = PERCENTILES,
) -> GroupStats:
    """Counts, sums and percentiles of `values` per group `codes`, one of each per row;
    a negative code or value leaves the row out.

    Rows left out get the largest key, so they sort after every group: no row is
    selected or copied before the one sort, and group boundaries are a binary search
    of the sorted keys (`_packed_order`)."""
    codes = np.asarray(codes)
    values = np.asarray(values)
    valid = (values >= 0) & (codes >= 0) & (codes < n_groups)
    top = int(values.max()) if len(values) else 0
    value_bits = max(top.bit_length(), 1)
    group_bits = max(n_groups - 1, 1).bit_length()
    if n_groups == 1:
        return _one_group(values[valid], percentiles)
    if value_bits + group_bits > KEY_BITS:
        kept_codes, kept_values = codes[valid], values[valid]
        ordered = sorted_by_group(kept_values, kept_codes, n_groups)
        counts = np.bincount(kept_codes, minlength=n_groups)[:n_groups]
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    else:
        ordered, starts, counts = _packed_order(values, codes, valid, n_groups, value_bits)
    out = np.full((n_groups, len(percentiles)), np.nan)
    present = counts > 0
    for j, p in enumerate(percentiles):
        out[present, j] = ordered[starts[present] + nearest_rank(counts[present], p)]
    sums = np.zeros(n_groups)
    if present.any():
        sums[present] = np.add.reduceat(ordered, starts[present])
    return GroupStats(counts=counts, sums=sums, percentiles=out)


def _packed_order(
    values: np.ndarray, codes: np.ndarray, valid: np.ndarray, n_groups: int, value_bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept values sorted by (group, value), group starts, group counts)."""
    keys = codes.astype(np.int64)
    keys <<= value_bits
    np.bitwise_or(keys, values, out=keys, casting="unsafe")
    np.copyto(keys, LEFT_OUT, where=~valid)
    keys.sort()
    bounds = np.searchsorted(keys, np.arange(n_groups + 1, dtype=np.int64) << value_bits)
    kept = keys[: bounds[-1]]  # a view without the left-out rows
    kept &= (1 << value_bits) - 1
    return kept, bounds[:-1], np.diff(bounds)


def _one_group(values: np.ndarray, percentiles: Sequence[float]) -> GroupStats:
    """The whole run: a partial sort at the needed ranks is enough (O(n), no full sort)."""
    n = len(values)
    return GroupStats(
        counts=np.array([n]),
        sums=np.array([float(values.sum(dtype=np.int64))]),
        percentiles=percentiles_of(values, percentiles)[np.newaxis, :],
    )


def grouped_percentiles(
    values: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    percentiles: Sequence[float] = PERCENTILES,
) -> tuple[np.ndarray, np.ndarray]:
    """(values per group, percentiles [n_groups, len(percentiles)]): `grouped_stats`."""
    stats = grouped_stats(values, codes, n_groups, percentiles)
    return stats.counts, stats.percentiles


def percentiles_of(values: np.ndarray, percentiles: Sequence[float] = PERCENTILES) -> np.ndarray:
    """Nearest-rank percentiles of one group of non-negative values (NaN when empty)."""
    values = np.asarray(values)
    values = values[values >= 0]
    if not len(values):
        return np.full(len(percentiles), np.nan)
    idx = [int(nearest_rank(np.array([len(values)]), p)[0]) for p in percentiles]
    part = np.partition(values, sorted(set(idx)))
    return part[idx].astype(float)
