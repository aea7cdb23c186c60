"""Compaction: a worker's small request parts rewritten as a few large files.

During a run a worker writes a part every `recorder.FLUSH_INTERVAL_S` (the crash
guarantee: at most the last 10 s are lost), so a day is ~17,000 files per worker, which
query engines open slowly. Compaction is ROLLING: while the run goes on, as soon as a
worker's not-yet-compacted small parts add up to `COMPACT_TARGET_BYTES` on disk, the
worker's `PartLedger` compacts them in a thread of gevent's threadpool (pyarrow releases
the interpreter lock during Parquet I/O; no Python work per row happens here), one
compaction at a time; at the run's end only the tail (less than one target) is left to
compact. Each compacted file streams small parts, in sequence order, and is named by the
range of parts it holds (``part-00000-00199.parquet``, `results.compacted_name`).

Crash safety, in this order:

1. the compacted file is written to a hidden temporary name, fsynced and renamed
   (`surge.atomic`), and its row count checked against the ledger: until then only
   the small parts exist;
2. the caller records it (the worker's account names the compacted file, the master
   hears of it with the next health report), then calls `remove_superseded`;
3. `remove_superseded` deletes the small parts it covers.

A crash between 1 and 3 leaves both the compacted file and (some of) its small parts;
`results.list_parts` drops small parts a compacted file covers, so every reader counts
each request once. A compacted file claims every sequence number of its span, so a
group never spans a gap (a part still being written, or lost): see `plan`. Memory is
bounded: one small part is read at a time and rows are written in row groups of
`ROW_GROUP_ROWS` (a few tens of MB), whatever the run's length.

`COMPACT_TARGET_BYTES` is 64 MiB unless the environment variable
``SURGE_COMPACT_TARGET_BYTES`` (`COMPACT_TARGET_ENV`, a positive number of bytes) says
otherwise when the worker starts; tests set a tiny one to see many compactions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from surge.atomic import atomic_write
from surge.results import (
    COMPRESSION,
    compacted_name,
    is_compacted,
    part_span,
    part_write_options,
    superseded,
    worker_dir,
)

logger = logging.getLogger(__name__)

#: environment variable that sets `COMPACT_TARGET_BYTES` for a worker process (bytes)
COMPACT_TARGET_ENV = "SURGE_COMPACT_TARGET_BYTES"
DEFAULT_TARGET_BYTES = 64 * 2**20  # engines like files of 64 MB and more


def target_from_env(default: int = DEFAULT_TARGET_BYTES) -> int:
    """`COMPACT_TARGET_ENV` as a number of bytes; a bad value is logged and ignored (a
    tuning knob must not stop a worker from starting)."""
    text = os.environ.get(COMPACT_TARGET_ENV, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        logger.warning("%s=%r is not a positive number of bytes: using %d",
                       COMPACT_TARGET_ENV, text, default)  # fmt: skip
        return default
    return value


#: a compacted file holds small parts up to about this many bytes; during the run a
#: worker compacts as soon as its small parts add up to more (read at each use: tests
#: shrink it with monkeypatch, worker processes with `COMPACT_TARGET_ENV`)
COMPACT_TARGET_BYTES = target_from_env()
#: rows per Parquet row group of a compacted file: large enough for good compression
#: and engine scans, small enough to keep a worker's memory flat (~30 MB decoded)
ROW_GROUP_ROWS = 1 << 19


@dataclass(frozen=True)
class Compacted:
    """One compacted file: its name, its rows and the small part names it replaces."""

    name: str
    rows: int
    covers: tuple[str, ...]


class CompactionError(Exception):
    """A compacted file did not come out as expected; the small parts are kept."""


def small_parts(parts: Mapping[str, int]) -> list[str]:
    """The ledger's parts that are not compacted yet, in sequence order."""
    return sorted((n for n in parts if not is_compacted(n)), key=lambda n: part_span(n) or (0, 0))


def plan(
    folder: Path,
    parts: Mapping[str, int],
    target_bytes: int | None = None,
    *,
    tail: bool = True,
) -> list[list[str]]:
    """Runs of consecutive small parts to compact, each up to about `target_bytes` on
    disk (the part that would take a run past it starts the next run).

    A gap in the sequence numbers (a write still running, a part the disk lacks) ends a
    run: a compacted name claims every number of its span, so a part written later in
    the gap would be hidden by it. `tail=False` (during the run): only runs that are
    complete, i.e. followed by another run; the last one waits for more parts. At the end
    a lone part is left as it is when it would be the worker's only compacted file
    (nothing to gain); beside other compacted files it is compacted too, so a worker's
    folder ends holding compacted files only."""
    target = COMPACT_TARGET_BYTES if target_bytes is None else target_bytes
    groups: list[list[str]] = []
    current: list[str] = []
    size = 0
    last_seq: int | None = None
    for name in small_parts(parts):
        span = part_span(name)
        assert span is not None
        try:
            bytes_on_disk = (folder / name).stat().st_size
        except FileNotFoundError:  # the ledger knows it, the disk does not: not ours to fix
            bytes_on_disk = -1
        gap = last_seq is not None and span[0] != last_seq + 1
        if current and (gap or bytes_on_disk < 0 or size + bytes_on_disk > target):
            groups.append(current)
            current, size = [], 0
        last_seq = span[1]
        if bytes_on_disk < 0:
            last_seq = None  # nothing joins across a missing part
            continue
        current.append(name)
        size += bytes_on_disk
    if current and tail:
        groups.append(current)
    lone = len(groups) == 1 and len(groups[0]) == 1
    if tail and lone and not any(is_compacted(n) for n in parts):
        return []
    return groups


def compact_parts(
    run_dir: Path,
    worker_id: str,
    parts: Mapping[str, int],
    *,
    target_bytes: int | None = None,
    tail: bool = True,
) -> list[Compacted]:
    """Write the compacted files of one worker (step 1 above); small parts stay.

    `parts` is the worker's ledger (part name -> rows); a compacted file whose row count
    differs from the sum of its parts' is removed again and `CompactionError` raised."""
    done, exc = compact_some(run_dir, worker_id, parts, target_bytes=target_bytes, tail=tail)
    if exc is not None:
        raise exc
    return done


def compact_some(
    run_dir: Path,
    worker_id: str,
    parts: Mapping[str, int],
    *,
    target_bytes: int | None = None,
    tail: bool = True,
) -> tuple[list[Compacted], Exception | None]:
    """`compact_parts` for a writer thread: the files done before an error, and the
    error as a value (a task that raises makes gevent's hub print to stderr, which fails
    on a full disk and stops the hub resuming its greenlets)."""
    folder = worker_dir(run_dir, worker_id)
    done: list[Compacted] = []
    try:
        for group in plan(folder, parts, target_bytes, tail=tail):
            done.append(compact_group(folder, group, parts))
    except Exception as exc:
        return done, exc
    return done, None


def compact_group(folder: Path, group: list[str], parts: Mapping[str, int]) -> Compacted:
    """One compacted file from the consecutive small parts `group` (a `plan` run)."""
    first, last = part_span(group[0]), part_span(group[-1])
    assert first is not None and last is not None
    name = compacted_name(first[0], last[1])
    path = folder / name
    atomic_write(path, lambda tmp: _write(tmp, folder, group), fsync=True)
    rows = sum(int(parts[n]) for n in group)
    written = pq.read_metadata(path).num_rows
    if written != rows:
        path.unlink(missing_ok=True)
        raise CompactionError(f"{name}: {written} rows written, the parts hold {rows}")
    return Compacted(name, rows, tuple(group))


def remove_superseded(run_dir: Path, worker_id: str) -> int:
    """Delete the worker's small parts a compacted file covers (step 3); returns how many."""
    folder = worker_dir(run_dir, worker_id)
    if not folder.is_dir():
        return 0
    gone = superseded(p.name for p in folder.iterdir())
    for name in gone:
        (folder / name).unlink(missing_ok=True)
    return len(gone)


def _write(tmp: Path, folder: Path, names: list[str]) -> None:
    """Stream `names` into one Parquet file at `tmp`, `ROW_GROUP_ROWS` rows at a time."""
    schema = pq.read_schema(folder / names[0])
    options = part_write_options(schema)
    buffered: list[pa.Table] = []
    rows = 0
    with pq.ParquetWriter(tmp, schema, compression=COMPRESSION, **options) as writer:
        for name in names:
            table = pq.read_table(folder / name)
            if table.schema.names != schema.names:
                raise CompactionError(f"{name} has other columns than {names[0]}")
            buffered.append(table.cast(schema))
            rows += table.num_rows
            if rows >= ROW_GROUP_ROWS:
                _write_group(writer, buffered)
                buffered, rows = [], 0
        if buffered:
            _write_group(writer, buffered)


def _write_group(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    # one dictionary per column per row group: parts each carry their own
    table = pa.concat_tables(tables).unify_dictionaries().combine_chunks()
    writer.write_table(table, row_group_size=max(table.num_rows, 1))
