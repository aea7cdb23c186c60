"""Exact nearest-rank percentiles, per group, from one sort."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surge.analysis.percentiles import (
    grouped_percentiles,
    grouped_stats,
    nearest_rank,
    percentiles_of,
)


def brute(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


@pytest.mark.parametrize(
    ("n", "p", "index"),
    [
        (20, 50, 9),
        (20, 95, 18),
        (20, 99, 19),
        (20, 100, 19),
        (1, 50, 0),
        (100, 99.9, 99),
        (1000, 99.9, 998),
    ],
)
def test_nearest_rank_index(n: int, p: float, index: int) -> None:
    assert nearest_rank(np.array([n]), p)[0] == index


def test_grouped_percentiles_match_brute_force_per_group() -> None:
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 13, 5000)
    values = rng.integers(0, 10**7, 5000)
    counts, pct = grouped_percentiles(values, codes, 15, (50, 95, 99.9, 100))
    for g in range(15):
        group = values[codes == g].tolist()
        assert counts[g] == len(group)
        if not group:
            assert np.isnan(pct[g]).all()
            continue
        assert pct[g].tolist() == [brute(group, p) for p in (50, 95, 99.9, 100)]


def test_negative_codes_and_values_are_ignored() -> None:
    values = np.array([5, -1, 1, 7])
    counts, pct = grouped_percentiles(values, np.array([0, 0, -1, 0]), 1, (50, 100))
    assert counts.tolist() == [2]
    assert pct[0].tolist() == [5, 7]


def test_percentiles_of_one_group() -> None:
    assert percentiles_of(np.arange(1, 101), (50, 99, 100)).tolist() == [50, 99, 100]
    assert np.isnan(percentiles_of(np.array([], dtype=np.int64), (50,))).all()


def test_keys_too_wide_to_pack_fall_back_to_lexsort() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 2**20, 3000)
    values = rng.integers(0, 2**50, 3000)  # 50 + 20 bits do not fit one int64 key
    counts, pct = grouped_percentiles(values, codes, 2**20, (50, 100))
    for g in np.unique(codes)[:50]:
        group = values[codes == g].tolist()
        assert counts[g] == len(group)
        assert pct[g].tolist() == [brute(group, p) for p in (50, 100)]


@pytest.mark.parametrize("n_groups", [1, 4])
def test_grouped_sums_are_exact_per_group(n_groups: int) -> None:
    rng = np.random.default_rng(11)
    codes = rng.integers(-1, n_groups, 2000)
    values = rng.integers(-1, 10**9, 2000)
    stats = grouped_stats(values, codes, n_groups)
    for g in range(n_groups):
        group = values[(codes == g) & (values >= 0)]
        assert stats.counts[g] == len(group)
        assert stats.sums[g] == group.sum()
