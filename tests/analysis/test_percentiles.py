"""Exact nearest-rank percentiles, per group, from one sort."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.percentiles import grouped_percentiles, nearest_rank, percentiles_of


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
