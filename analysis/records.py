"""Request parts -> compact NumPy columns: each part converted straight into its rows.

A run has a part per worker every few seconds (1,600 parts for half an hour on 8
workers), so reading is dominated by per-file cost and by full-size copies. Hence:
footers first (the total row count sizes the final arrays once); then `READ_THREADS`
threads decode parts with `ParquetFile.read` (half the per-file cost of a
`pyarrow.dataset` scan; Arrow releases the GIL) while this thread converts each one,
in order, into its slice of the final arrays, with plain NumPy on Arrow buffers (an
Arrow compute call costs ~50 us, and there would be ~15,000 of them). The whole run
never exists as an Arrow table, nor as pieces to concatenate: 10 million requests take
~36 bytes each, and the frame built on them never copies them again.

Any problem reading a part falls back to `surge.results.read_requests`, which
checks every part against the contract and raises `RunDirError` naming it.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import os
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
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
READ_THREADS = max(1, min(os.cpu_count() or 1, 4))  # threads decoding parts
READ_AHEAD = 2 * READ_THREADS  # parts decoded ahead of the conversion (bounded memory)

#: the request columns the report reads (`bytes` and `worker` are not needed)
RECORD_COLUMNS = (
    "name",
    "method",
    "stage",
    "intended_us",
    "sent_us",
    "latency_us",
    "service_us",
    "status",
    "outcome",
    "error",
)
#: string columns kept as codes into one run-wide sorted list each (`<column>s` in the
#: result); the code of a null (no error) is -1
DICTIONARY_COLUMNS = ("name", "method", "error")


@dataclass(frozen=True)
class Throttling:
    """What counts as "the target throttled us": error statuses, or an error text."""

    statuses: frozenset[int]
    pattern: re.Pattern[str]
    status_table: np.ndarray  # bool, indexed by a status as uint16

    @classmethod
    def of(cls, statuses: Collection[int], pattern: str) -> Throttling:
        table = np.zeros(2**16, np.bool_)
        table[[s & 0xFFFF for s in statuses]] = True
        return cls(frozenset(statuses), re.compile(pattern, re.IGNORECASE), table)

    def by_text(self, errors: tuple[str | None, ...]) -> list[bool]:
        """Which error texts mean throttling (a part's dictionary; None: no error)."""
        return [bool(e and self.pattern.search(e)) for e in errors]


def read_records(
    run_dir: Path, throttling: Throttling, skip: Collection[Path] = ()
) -> dict[str, np.ndarray]:
    """Every request of a run as compact columns (see `part_arrays`) plus `names`, the
    request names that the `name` codes index. Parts in `skip` (damaged) are left out."""
    parts = [p for p in list_parts(run_dir) if p not in skip]
    if parts:
        try:
            with _gc_paused():
                return _read_parts(parts, throttling)
        except (pa.ArrowException, OSError, ValueError, KeyError):
            pass
    table = read_requests(run_dir, columns=list(RECORD_COLUMNS), skip=skip)
    out = _allocate(table.num_rows)
    names = [_fill(out, 0, part_arrays(table, throttling))]
    return _unify_dictionaries(out, names, np.array([0, table.num_rows]))


def _read_parts(parts: list[Path], throttling: Throttling) -> dict[str, np.ndarray]:
    """Footers first: the total row count lets every part convert straight into its
    slice of the final arrays (no pieces, no concatenation). Then reader threads decode
    up to `READ_AHEAD` parts ahead (Arrow releases the GIL) while this thread converts
    them in order: one thread holds the GIL, so threads do not fight over it."""
    with ThreadPoolExecutor(READ_THREADS) as pool:
        footers = list(pool.map(pq.read_metadata, parts))
        starts = np.cumsum([0] + [f.num_rows for f in footers])
        out = _allocate(int(starts[-1]))
        pending: collections.deque[Future[pa.Table]] = collections.deque()
        names: list[dict[str, list[str]]] = []

        def convert_next() -> None:
            table = pending.popleft().result()
            names.append(_fill(out, int(starts[len(names)]), part_arrays(table, throttling)))

        for part, footer in zip(parts, footers, strict=True):
            pending.append(pool.submit(_read_part, part, footer))
            if len(pending) > READ_AHEAD:
                convert_next()
        while pending:
            convert_next()
    return _unify_dictionaries(out, names, starts)


#: the columns `read_records` returns, with their types
RECORD_TYPES: dict[str, Any] = {
    "intended_us": np.int64,
    "sent_us": np.int64,
    "latency_us": np.int64,
    "service_us": np.int32,
    "stage": np.int16,
    "status": np.int16,
    "outcome": np.int8,
    "throttled": np.bool_,
    "name": np.int32,
    "method": np.int32,
    "error": np.int32,
}


def _allocate(rows: int) -> dict[str, np.ndarray]:
    return {key: np.empty(rows, dtype) for key, dtype in RECORD_TYPES.items()}


def _read_part(path: Path, footer: pq.FileMetaData) -> pa.Table:
    part = pq.ParquetFile(path, metadata=footer, pre_buffer=False)
    table = part.read(columns=list(RECORD_COLUMNS), use_threads=False)
    if table.num_rows != footer.num_rows:
        raise ValueError(f"{path}: {table.num_rows} rows, footer says {footer.num_rows}")
    return table


def _fill(out: dict[str, np.ndarray], start: int, arrays: dict[str, Any]) -> dict[str, list[str]]:
    """Copy one part's arrays into rows start.. of `out`; returns the part's dictionaries
    (column -> values its codes index)."""
    dictionaries = {c: arrays.pop(f"{c}s") for c in DICTIONARY_COLUMNS}
    for c in DICTIONARY_COLUMNS:
        arrays[c] = arrays.pop(f"{c}_codes")
    for key, values in arrays.items():
        out[key][start : start + len(values)] = values
    return dictionaries


def _unify_dictionaries(
    out: dict[str, Any], parts: list[dict[str, list[str]]], starts: np.ndarray
) -> dict[str, np.ndarray]:
    """Each part coded its strings with its own dictionaries: recode to one sorted list
    per column (`names`, `methods`, `errors`); -1 (null) stays -1."""
    for column in DICTIONARY_COLUMNS:
        unified = sorted({str(n) for part in parts for n in part[column]})
        position = {n: i for i, n in enumerate(unified)}
        codes = out[column]
        for i, part in enumerate(parts):
            values = part[column]
            lookup = np.array([position[str(n)] for n in values] + [-1], np.int32)
            if not np.array_equal(lookup[:-1], np.arange(len(values))):
                lo, hi = int(starts[i]), int(starts[i + 1])
                codes[lo:hi] = lookup[codes[lo:hi]]  # -1 indexes the appended -1
        out[f"{column}s"] = np.asarray(unified, dtype=object)
    return out


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while parts convert: the many short-lived small
    objects would trigger full collections over pandas' big heap (~10 % of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def part_arrays(table: pa.Table, throttling: Throttling) -> dict[str, Any]:
    """One part's columns in the frame's types: intended_us, sent_us (int64, `MISSING`
    when never sent), latency_us (int64), service_us (int32, `MISSING`), stage, status
    (int16), outcome (int8 code), throttled (bool), and for each of name, method and
    error its codes (`<column>_codes`, -1 for null) and dictionary (`<column>s`)."""
    column = table.column  # KeyError for a missing column: the caller falls back
    outcome = _lookup_codes(column("outcome"), _outcome_codes, np.int8)
    status = _ints(column("status"), np.int16)
    by_text = _lookup_codes(column("error"), throttling.by_text, np.bool_)  # null: False
    by_status = throttling.status_table[status.astype(np.uint16)]
    throttled = (outcome == ERROR) & (by_status | by_text)
    service = np.minimum(_ints(column("service_us"), np.int64), INT32_MAX)
    return {
        "intended_us": _ints(column("intended_us"), np.int64),
        "sent_us": _ints(column("sent_us"), np.int64),
        "latency_us": _ints(column("latency_us"), np.int64),
        "service_us": service.astype(np.int32),
        "stage": _ints(column("stage"), np.int16),
        "status": status,
        "outcome": outcome,
        "throttled": throttled,
        **_dictionary_codes(column("name"), "name"),
        **_dictionary_codes(column("method"), "method"),
        **_dictionary_codes(column("error"), "error"),
    }


def _dictionary_codes(column: pa.ChunkedArray, key: str) -> dict[str, Any]:
    """`<key>_codes` (int32, -1 for null) and `<key>s` (the values they index)."""
    values = column.combine_chunks()
    if not pa.types.is_dictionary(values.type):
        values = values.dictionary_encode()
    return {
        f"{key}_codes": _chunk_ints(values.indices, -1).astype(np.int32, copy=False),
        f"{key}s": values.dictionary.to_pylist(),
    }


def _ints(column: pa.ChunkedArray, dtype: Any) -> np.ndarray:
    """An integer column as NumPy, nulls as `MISSING`."""
    pieces = [_chunk_ints(chunk, MISSING) for chunk in column.chunks]
    if len(pieces) == 1:
        return pieces[0].astype(dtype, copy=False)
    return np.concatenate(pieces).astype(dtype, copy=False) if pieces else np.zeros(0, dtype)


def _chunk_ints(chunk: pa.Array, fill: int) -> np.ndarray:
    """Zero-copy without nulls; with nulls, the value buffer masked by the validity
    bitmap. No Arrow compute call: each costs ~50 us, and a run has ~15,000 of them."""
    if chunk.null_count == 0:
        return chunk.to_numpy()
    validity, data = chunk.buffers()[:2]
    end = chunk.offset + len(chunk)
    values = np.frombuffer(data, chunk.type.to_pandas_dtype(), count=end)[chunk.offset :]
    bits = np.unpackbits(np.frombuffer(validity, np.uint8), count=end, bitorder="little")
    return np.where(bits[chunk.offset :].view(np.bool_), values, fill)


def _lookup_codes(
    column: pa.ChunkedArray, lookup: Callable[[tuple[Any, ...]], Sequence[Any]], dtype: Any
) -> np.ndarray:
    """Map a dictionary column through `lookup(dictionary values) -> codes`, chunk by
    chunk; a null maps to the last code, `lookup`'s answer for None."""
    pieces = []
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        values = (*chunk.dictionary.to_pylist(), None)
        table = np.asarray(lookup(values), dtype=dtype)
        pieces.append(table[_chunk_ints(chunk.indices, len(values) - 1)])
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype)


def _outcome_codes(values: tuple[str | None, ...]) -> list[int]:
    """Outcome texts -> codes; None (only the null slot `_lookup_codes` adds) -> 0."""
    known = {o.value: i for i, o in enumerate(OUTCOMES)}
    unknown = sorted({str(v) for v in values[:-1] if v not in known})
    if unknown:
        raise RunDirError(f"request records carry unknown outcomes: {', '.join(unknown)}")
    return [known.get(v, 0) for v in values]
