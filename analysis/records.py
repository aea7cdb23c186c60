"""Request parts -> compact NumPy columns, one part at a time, in threads.

A run has a part per worker every few seconds (1,600 parts for half an hour on 8
workers), so reading is mostly per-file cost and converting is mostly full-size
copies. Each part is therefore read with `ParquetFile.read` (about half the per-file
cost of a `pyarrow.dataset` scan) and converted right away to the few small NumPy
types the report needs, in `READ_THREADS` threads (Parquet decoding releases the
GIL). The whole run never exists as an Arrow table next to its frame: for 10
million requests the columns take ~40 bytes per request, not ~100.

Any problem reading a part falls back to `surge.results.read_requests`, which
checks every part against the contract and raises `RunDirError` naming it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from surge.errors import RunDirError
from surge.results import Outcome, list_parts, read_requests

#: outcome -> small integer code used in the frame's `outcome` column (this order)
OUTCOMES: tuple[Outcome, ...] = (
    Outcome.OK,
    Outcome.REJECTED,
    Outcome.ERROR,
    Outcome.TIMEOUT,
    Outcome.DROPPED,
)
OK, REJECTED, ERROR, TIMEOUT, DROPPED = range(len(OUTCOMES))
MISSING = -1  # sentinel for a null integer (service time or send time of a dropped request)
INT32_MAX = 2**31 - 1
READ_THREADS = max(2, min(os.cpu_count() or 1, 8))  # threads reading and converting parts

#: the request columns the report reads (`method`, `bytes` and `worker` are not needed)
RECORD_COLUMNS = (
    "name",
    "stage",
    "intended_us",
    "sent_us",
    "latency_us",
    "service_us",
    "status",
    "outcome",
    "error",
)


@dataclass(frozen=True)
class Throttling:
    """What counts as "the target throttled us": error statuses, or an error text."""

    statuses: frozenset[int]
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, statuses: Collection[int], pattern: str) -> Throttling:
        return cls(frozenset(statuses), re.compile(pattern, re.IGNORECASE))


def read_records(run_dir: Path, throttling: Throttling) -> dict[str, np.ndarray]:
    """Every request of a run as compact columns (see `part_arrays`), names unified."""
    parts = list_parts(run_dir)
    convert = partial(_read_part, throttling=throttling)
    pieces: list[dict[str, Any]] = []
    if parts:
        try:
            with ThreadPoolExecutor(READ_THREADS) as pool:
                pieces = list(pool.map(convert, parts))
        except (pa.ArrowException, OSError, ValueError, KeyError):
            pieces = []
    if not pieces:
        pieces = [part_arrays(read_requests(run_dir, columns=list(RECORD_COLUMNS)), throttling)]
    return merge_parts(pieces)


def _read_part(path: Path, throttling: Throttling) -> dict[str, Any]:
    part = pq.ParquetFile(path, pre_buffer=False)
    table = part.read(columns=list(RECORD_COLUMNS), use_threads=False)
    return part_arrays(table, throttling)


def part_arrays(table: pa.Table, throttling: Throttling) -> dict[str, Any]:
    """One part's columns in the frame's types: intended_us, sent_us (int64, `MISSING`
    when never sent), latency_us (int64), service_us (int32, `MISSING`), stage, status
    (int16), outcome (int8 code), throttled (bool), name_codes (int32) + names (list)."""
    column = table.column  # KeyError for a missing column: the caller falls back
    outcome = _lookup_codes(column("outcome"), _outcome_codes, np.int8)
    status = _ints(column("status"), np.int16)
    errors = column("error")
    by_text = _lookup_codes(
        errors, lambda vs: [bool(v and throttling.pattern.search(v)) for v in vs], np.bool_
    )
    by_text &= errors.is_valid().to_numpy(zero_copy_only=False)
    throttled = (outcome == ERROR) & (np.isin(status, list(throttling.statuses)) | by_text)
    names = column("name").combine_chunks()
    if not pa.types.is_dictionary(names.type):
        names = names.dictionary_encode()
    service = _ints(column("service_us"), np.int64)
    return {
        "intended_us": _ints(column("intended_us"), np.int64),
        "sent_us": _ints(column("sent_us"), np.int64),
        "latency_us": _ints(column("latency_us"), np.int64),
        "service_us": np.clip(service, MISSING, INT32_MAX).astype(np.int32),
        "stage": _ints(column("stage"), np.int16),
        "status": status,
        "outcome": outcome,
        "throttled": throttled,
        "name_codes": pc.fill_null(names.indices, 0).to_numpy().astype(np.int32, copy=False),
        "names": names.dictionary.to_pylist(),
    }


def merge_parts(pieces: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Concatenate the parts' columns one column at a time (each column's pieces are freed
    as soon as it is whole); request names become codes into `names`, sorted."""
    names = sorted({str(n) for piece in pieces for n in piece["names"]})
    position = {n: i for i, n in enumerate(names)}
    out: dict[str, Any] = {"names": np.asarray(names, dtype=object)}
    for piece in pieces:
        lookup = np.array([position[str(n)] for n in piece.pop("names")] or [0], np.int16)
        piece["name"] = lookup[piece.pop("name_codes")]
    for key in list(pieces[0]):
        out[key] = np.concatenate([piece.pop(key) for piece in pieces])
    return out


def _ints(column: pa.ChunkedArray, dtype: Any) -> np.ndarray:
    return pc.fill_null(column, MISSING).to_numpy().astype(dtype, copy=False)


def _lookup_codes(
    column: pa.ChunkedArray, lookup: Callable[[list[Any]], Sequence[Any]], dtype: Any
) -> np.ndarray:
    """Map a dictionary column through `lookup(dictionary values) -> codes`, chunk by chunk."""
    pieces = []
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        table = np.asarray(lookup(chunk.dictionary.to_pylist()), dtype=dtype)
        indices = pc.fill_null(chunk.indices, 0).to_numpy(zero_copy_only=False)
        pieces.append(table[indices] if len(table) else np.zeros(len(indices), dtype))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype)


def _outcome_codes(values: list[str | None]) -> list[int]:
    known = {o.value: i for i, o in enumerate(OUTCOMES)}
    unknown = sorted({str(v) for v in values if v not in known})
    if unknown:
        raise RunDirError(f"request records carry unknown outcomes: {', '.join(unknown)}")
    return [known[v] for v in values]
