"""What the streamed report reads, and in what order: row groups by earliest intended send.

A run's request parts are small files written every few seconds (a run in progress,
or one whose worker died) or a few large compacted files per worker (~64 MB, row
groups of about a million rows; `surge.locustfiles.compaction`). Either way the unit
read at a time is ONE Parquet row group: a small part is one, a compacted file many.
Units are read in order of their earliest intended send (the footer's min/max
statistics of ``intended_us``), so everything not yet read starts at or after the next
unit's first request: the per-second aggregation can close every earlier second (its
*watermark*) and memory holds about one row group per worker, whatever the run length.

Which files are the run's parts is `surge.results.list_parts`'s answer, never a
directory listing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from surge.analysis.endings import DamagedPart
from surge.analysis.records import READ_THREADS, RECORD_COLUMNS
from surge.analysis.remote_parts import REMOTE_READ_THREADS, RemotePart, is_remote
from surge.results import part_key, part_worker

#: a part: a local file, or an object in S3 (`analysis.remote_parts`)
Part = Path | RemotePart

UNREAD = 2**62  # the first intended send of a unit without rows: after every other


@dataclass(frozen=True)
class Unit:
    """One row group of one part."""

    part: Part
    footer: pq.FileMetaData
    group: int
    first_us: int  # the earliest intended send in it (microseconds since the epoch)
    rows: int

    @property
    def key(self) -> str:
        """``<worker>/<part name>``: how manifests, accounts and reports name the part."""
        return key_of(self.part)


def key_of(part: Part) -> str:
    """``<worker>/<part name>`` of a local or remote part (`surge.results.part_key`)."""
    return part_key(Path(part.rel) if isinstance(part, RemotePart) else part)


def worker_of(part: Part) -> str:
    return part_worker(Path(part.rel) if isinstance(part, RemotePart) else part)


def threads_for(parts: Sequence[Part]) -> int:
    """Reader threads: a few for local files (decoding), more for S3 (waiting)."""
    return REMOTE_READ_THREADS if is_remote(parts) else READ_THREADS


def _source(part: Part) -> Any:
    return part.open() if isinstance(part, RemotePart) else part


def problem_of(exc: BaseException) -> str:
    return f"unreadable: {str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__}"


def _footer(part: Part) -> pq.FileMetaData | str:
    try:
        return pq.read_metadata(_source(part))
    except (pa.ArrowException, OSError, ValueError) as exc:
        return problem_of(exc)


def plan_units(
    parts: Sequence[Part], expected: dict[str, int]
) -> tuple[list[Unit], list[DamagedPart]]:
    """The readable parts' row groups by first intended send (footers read in threads),
    and the parts whose footer cannot be read (as `analysis.endings.check_parts` finds)."""
    with ThreadPoolExecutor(threads_for(parts)) as pool:
        footers = list(pool.map(_footer, parts))
    damaged: list[DamagedPart] = []
    units: list[Unit] = []
    for part, footer in zip(parts, footers, strict=True):
        if isinstance(footer, str):
            damaged.append(DamagedPart(key_of(part), footer, expected.get(key_of(part))))
            continue
        missing = sorted(set(RECORD_COLUMNS) - set(footer.schema.names))
        if missing:
            problem = f"unreadable: does not match the results contract: missing {missing}"
            damaged.append(DamagedPart(key_of(part), problem, expected.get(key_of(part))))
            continue
        column = footer.schema.names.index("intended_us")
        for g in range(footer.num_row_groups):
            rows = footer.row_group(g).num_rows
            units.append(Unit(part, footer, g, _first_us(part, footer, g, column), rows))
    units.sort(key=lambda u: (u.first_us, str(u.part), u.group))
    return units, damaged


def _first_us(part: Part, footer: pq.FileMetaData, group: int, column: int) -> int:
    meta = footer.row_group(group)
    if not meta.num_rows:
        return UNREAD
    stats = meta.column(column).statistics
    if stats is not None and stats.has_min_max:
        return int(stats.min)
    try:  # a part written without statistics: read the one column
        values = pq.ParquetFile(_source(part), metadata=footer).read_row_group(
            group, columns=["intended_us"]
        )["intended_us"]
    except (pa.ArrowException, OSError, ValueError):
        return UNREAD  # its reading fails later, and names the part
    low = pc.min(values).as_py()
    return UNREAD if low is None else int(low)


def read_unit(unit: Unit) -> pa.Table:
    """The record columns of one row group, decoded whole (a damaged page fails the
    row group, never half of it). Arrow releases the GIL: callers use threads."""
    remote = isinstance(unit.part, RemotePart)  # its column chunks in one coalesced read
    file = pq.ParquetFile(_source(unit.part), metadata=unit.footer, pre_buffer=remote)
    table = file.read_row_group(unit.group, columns=list(RECORD_COLUMNS), use_threads=False)
    if table.num_rows != unit.rows:
        raise ValueError(f"{table.num_rows} rows, the footer says {unit.rows}")
    return table
