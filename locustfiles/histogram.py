"""Mergeable latency histograms: how the master gets fleet percentiles without averaging.

Workers bucket their latencies (log-linear, about 1.1 % wide) once a second with numpy
and send the bucket counts; the master adds counts and reads percentiles from the sum.
Averaging per-worker percentiles would be wrong; adding counts is exact up to the
bucket width, which is far below what a live display or an abort rule needs (the final
report computes exact percentiles from the raw Parquet records).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

BUCKETS_PER_OCTAVE = 64  # 2 ** (1/64) - 1 = 1.09 % relative width


def bucket_counts(values_us: np.ndarray) -> dict[int, int]:
    """Bucket index -> count for an array of microsecond values (values < 1 us go to 0)."""
    if values_us.size == 0:
        return {}
    clipped = np.maximum(values_us.astype(np.float64), 1.0)
    idx = np.floor(np.log2(clipped) * BUCKETS_PER_OCTAVE).astype(np.int64)
    keys, counts = np.unique(idx, return_counts=True)
    return {int(k): int(c) for k, c in zip(keys, counts, strict=True)}


def from_message(counts: Mapping[Any, Any] | None) -> dict[int, int]:
    """A histogram as a health message carries it (JSON makes its keys strings) ->
    bucket index -> count."""
    return {int(k): int(v) for k, v in (counts or {}).items()}


def bucket_value_us(index: int) -> float:
    """The upper edge of a bucket, in microseconds (a conservative percentile)."""
    return 2.0 ** ((index + 1) / BUCKETS_PER_OCTAVE)


def merge(histograms: Iterable[Mapping[int, int]]) -> Counter[int]:
    total: Counter[int] = Counter()
    for h in histograms:
        for k, c in h.items():
            total[int(k)] += int(c)
    return total


def percentile_us(histogram: Mapping[int, int], pct: float) -> float | None:
    """The `pct` percentile (0..100) of a merged histogram; None when empty."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(pct / 100.0 * n))
    seen = 0
    for k in sorted(histogram):
        seen += histogram[k]
        if seen >= rank:
            return bucket_value_us(k)
    return bucket_value_us(max(histogram))


def mean_us(histogram: Mapping[int, int]) -> float | None:
    n = sum(histogram.values())
    if n == 0:
        return None
    return sum(bucket_value_us(k) * c for k, c in histogram.items()) / n
