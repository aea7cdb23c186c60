"""Part -> NumPy conversion without Arrow compute calls: nulls, slices and dictionaries."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from surge.analysis.records import MISSING, _chunk_ints, _ints, _lookup_codes


@pytest.mark.parametrize("offset", [0, 1, 7, 8, 13])
def test_integers_with_nulls_match_fill_null_also_on_slices(offset: int) -> None:
    rng = np.random.default_rng(offset)
    values = rng.integers(-5, 10**12, 100)
    mask = rng.random(100) < 0.3
    array = pa.array(values, pa.int64(), mask=mask).slice(offset, 60)
    expected = pc.fill_null(array, MISSING).to_numpy()
    assert _chunk_ints(array, MISSING).tolist() == expected.tolist()
    chunked = pa.chunked_array([array, pa.array([1, None, 3], pa.int64())])
    assert _ints(chunked, np.int64).tolist() == [*expected.tolist(), 1, MISSING, 3]


def test_dictionary_lookup_maps_nulls_to_the_lookup_of_none() -> None:
    errors = pa.array(["Throttled", None, "boom", None], pa.string()).dictionary_encode()
    seen = []

    def lookup(values: tuple[str | None, ...]) -> list[bool]:
        seen.append(values)
        return [bool(v and "thr" in v.lower()) for v in values]

    codes = _lookup_codes(pa.chunked_array([errors.slice(1)]), lookup, np.bool_)
    assert codes.tolist() == [False, False, False]
    assert seen[0][-1] is None
    codes = _lookup_codes(pa.chunked_array([errors]), lookup, np.bool_)
    assert codes.tolist() == [True, False, False, False]
