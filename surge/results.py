"""The results contract: the one module that writes and reads a run directory.

Layout of ``results/<run_id>/`` (results layout 2, `RESULTS_LAYOUT`; the same keys
under ``s3://<bucket>/runs/<run_id>/``)::

    manifest.json                      format_version, schedule, versions, workers, clocks
    requests/worker=<id>/              one hive-style partition per worker process:
        part-NNNNN.parquet             one row per request, dropped ones included, a
                                       part every few seconds while the run goes on
        part-NNNNN-MMMMM.parquet       a compacted part: parts NNNNN..MMMMM in one file
                                       (~`COMPACT_TARGET_BYTES`), written during the run
        _account.json                  the worker's own account (`surge.accounts`);
                                       engines skip names starting with ``_``
    health/part-NNNNN.parquet          generator health, one row per worker per second,
                                       a part every `HEALTH_PART_INTERVAL_S` (the master
                                       keeps no more in memory)
    status.json                        live state, rewritten each second by the master
                                       (progress display, web UI); final state at the end
    report/                            written by `surge report`

Engines read ``requests/`` as one table partitioned by ``worker`` (DuckDB
``hive_partitioning``, Athena partition projection; docs/sql/). Times are **int64
microseconds since the Unix epoch, UTC** (``intended_us``, ``sent_us``; durations
int64 microseconds too): delta-encoded, they keep a request at about 11 bytes.

Compaction: while its run goes on (rolling, the tail at the end) a worker rewrites its
small parts into large ones (`surge.locustfiles.compaction`), each named by the range of
parts it covers.
The compacted file is complete on disk (atomic rename) before the small parts are
deleted, so a crash in between leaves both, and `list_parts` (the ONE answer to
"which files are this run's request parts", every reader uses it) drops a small part
a compacted file covers: nothing is counted twice, nothing is lost.

Layout 1 (surge before issue 17, manifest format_minor <= 3) is still read:
``requests/<worker_id>/part-NNNNN.parquet``, ``requests/<worker_id>/account.json`` and
``health.parquet`` at the top. The manifest's ``results_layout`` says which one a run
used (absent: 1). Readers refuse a manifest whose ``format_version`` they do not know.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from surge.atomic import atomic_write, atomic_write_bytes
from surge.errors import RunDirError
from surge.manifest import (  # the manifest's type lives in its own module; this is its door
    DEFAULT_RESULTS_DIR,
    FINAL_STATES,
    FORMAT_VERSION,
    KNOWN_FORMAT_VERSIONS,
    MANIFEST,
    RESULTS_LAYOUT,
    Abort,
    AbortedBy,
    Manifest,
    MasterEntry,
    RunState,
    Totals,
    WorkerEntry,
    check_format_version,
    read_manifest,
)

__all__ = [  # re-exported: the manifest's names, reached through the results module
    "DEFAULT_RESULTS_DIR", "FINAL_STATES", "FORMAT_VERSION", "KNOWN_FORMAT_VERSIONS",
    "MANIFEST", "RESULTS_LAYOUT", "Abort", "AbortedBy", "Manifest", "MasterEntry", "RunState",
    "Totals", "WorkerEntry", "check_format_version", "read_manifest",
]  # fmt: skip
#: environment variable a generator process reads its EC2 instance type from (the agent
#: sets it from Terraform's SURGE_INSTANCE_TYPE); the manifest's workers and master carry
#: it as ``instance_type`` so the report can price the fleet
INSTANCE_TYPE_ENV = "SURGE_INSTANCE_TYPE"


def own_instance_type() -> str | None:
    """This process's EC2 instance type as the agent passed it (None off a fleet)."""
    return os.environ.get(INSTANCE_TYPE_ENV) or None


REQUESTS_DIR = "requests"
WORKER_KEY = "worker"  # the hive partition key of a worker's folder: requests/worker=<id>/
HEALTH_DIR = "health"  # health/part-NNNNN.parquet
HEALTH_PART_INTERVAL_S = 60.0  # the master writes a health part this often
OLD_HEALTH_FILE = "health.parquet"  # layout 1: one file at the top
STATUS_FILE = "status.json"
STATUS_FORMAT_VERSION = 1  # major version of status.json; readers refuse another
REPORT_DIR = "report"
SUMMARY_FILE = "summary.json"  # in REPORT_DIR: the report's numbers for CI and dashboards
SUMMARY_VERSION = 1  # major version of summary.json (its key is summary_version)
#: a request part: part-NNNNN.parquet, or compacted part-NNNNN-MMMMM.parquet (N..M)
PART_RE = re.compile(r"^part-(\d{5,})(?:-(\d{5,}))?\.parquet$")
COMPRESSION = "zstd"
#: per-column Parquet encodings of request parts (how bytes are laid out, not the schema):
#: the time columns rise steadily within a part, so delta encoding stores ~12 bits of
#: gap instead of a 64-bit value; latencies are random, so a dictionary of them is pure
#: overhead and deltas of 32 bit-packed values, then zstd, store them in ~2-3 bytes.
#: DELTA_BINARY_PACKED is a Parquet 2.0 encoding every reader (Arrow, DuckDB, Spark,
#: Athena) decodes. 10 M random requests: 18.9 -> about 11 bytes per request.
DELTA_COLUMNS = ("intended_us", "sent_us", "latency_us", "service_us")
#: min/max statistics only where a reader may prune by them (time); every other
#: column's statistics cost ~70 bytes per part in the footer and page headers
STATISTICS_COLUMNS = ("intended_us",)


class Outcome(enum.Enum):
    OK = "ok"
    REJECTED = "rejected"  # a valid business refusal, such as sold out (409)
    ERROR = "error"
    TIMEOUT = "timeout"
    DROPPED = "dropped"  # never sent: later than max_lateness when a slot came free


_dict_str = pa.dictionary(pa.int32(), pa.string())

REQUEST_SCHEMA = pa.schema(
    [
        pa.field("worker", _dict_str, nullable=False),
        pa.field("name", _dict_str, nullable=False),
        pa.field("method", _dict_str, nullable=False),
        pa.field("stage", pa.int16(), nullable=False),
        pa.field("intended_us", pa.int64(), nullable=False),
        pa.field("sent_us", pa.int64()),
        pa.field("latency_us", pa.int64(), nullable=False),
        pa.field("service_us", pa.int64()),
        pa.field("status", pa.int16(), nullable=False),
        pa.field("outcome", _dict_str, nullable=False),
        pa.field("bytes", pa.int32(), nullable=False),
        pa.field("error", _dict_str),
    ],
    metadata={
        "surge.format_version": str(FORMAT_VERSION),
        "surge.results_layout": str(RESULTS_LAYOUT),
    },
)

HEALTH_SCHEMA = pa.schema(
    [
        pa.field("time_us", pa.int64(), nullable=False),  # end of the one-second sample
        pa.field("worker", _dict_str, nullable=False),
        pa.field("cpu_percent", pa.float32()),
        pa.field("send_lag_p50_us", pa.int64()),
        pa.field("send_lag_p99_us", pa.int64()),
        pa.field("send_lag_max_us", pa.int64()),
        pa.field("in_flight", pa.int32()),
        pa.field("sent", pa.int64()),  # requests sent in this sample
        pa.field("late", pa.int64()),  # sent, but after their intended time + 10 ms
        pa.field("dropped", pa.int64()),
        # why a worker lagged: waiting for a CPU (others' load) vs a late event loop
        pa.field("cpu_wait_percent", pa.float32()),
        pa.field("loop_lag_p99_us", pa.int64()),
    ]
)


def make_run_id(schedule_name: str, now: dt.datetime | None = None) -> str:
    """``<schedule name>-<UTC timestamp>``, sortable and safe as a path and S3 key."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{schedule_name}-{now:%Y%m%dT%H%M%SZ}"


# ---------------------------------------------------------------- writing


def _atomic_write_table(path: Path, table: pa.Table, **options: Any) -> None:
    """Write a Parquet file so that a reader sees all of it or none of it."""
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression=COMPRESSION, **options))


def requests_table(columns: Mapping[str, Sequence[Any] | pa.Array]) -> pa.Table:
    """Build a table in the request schema from plain column sequences."""
    arrays = []
    for fld in REQUEST_SCHEMA:
        values = columns[fld.name]
        if pa.types.is_dictionary(fld.type):
            arr = pa.array(values, type=pa.string()).dictionary_encode()
        else:
            arr = pa.array(values, type=fld.type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=REQUEST_SCHEMA)


def part_write_options(schema: pa.Schema) -> dict[str, Any]:
    """`pq.write_table` options for a request part: delta-encoded integer time columns
    (dictionary off for them, as Parquet requires), statistics on the time column only.
    Columns a table lacks are skipped, so any table in (part of) the schema writes."""
    delta = {
        name: "DELTA_BINARY_PACKED"
        for name in DELTA_COLUMNS
        if name in schema.names and pa.types.is_integer(schema.field(name).type)
    }
    return {
        "use_dictionary": [n for n in schema.names if n not in delta],
        "column_encoding": delta or None,
        "write_statistics": [n for n in STATISTICS_COLUMNS if n in schema.names] or False,
    }


def worker_dir(run_dir: str | Path, worker_id: str) -> Path:
    """A worker's folder of parts: ``requests/worker=<id>/`` (a hive partition)."""
    return Path(run_dir) / REQUESTS_DIR / f"{WORKER_KEY}={worker_id}"


def part_path(run_dir: str | Path, worker_id: str, seq: int) -> Path:
    return worker_dir(run_dir, worker_id) / f"part-{seq:05d}.parquet"


def compacted_name(first: int, last: int) -> str:
    """The file name of a compacted part holding parts `first`..`last` (inclusive)."""
    return f"part-{first:05d}-{last:05d}.parquet"


def part_span(name: str) -> tuple[int, int] | None:
    """The part sequence numbers a part file holds (first, last), None: not a part."""
    match = PART_RE.match(name)
    if match is None:
        return None
    first = int(match.group(1))
    return first, int(match.group(2) or first)


def superseded(names: Iterable[str]) -> set[str]:
    """The part names (of ONE worker) that a compacted part among `names` covers: a small
    part left behind by a crash between writing the compacted file and deleting the
    parts, or a smaller compacted one. Readers drop them, so nothing counts twice."""
    spans = {n: span for n in names if (span := part_span(n)) is not None}
    compacted = [(n, s) for n, s in spans.items() if is_compacted(n)]  # a few per worker
    out = set()
    for name, (a, b) in spans.items():
        for other, (c, d) in compacted:
            # covered; a same-span pair (part-00007 and part-00007-00007) keeps the compacted
            if other != name and c <= a and b <= d and ((c, d) != (a, b) or not is_compacted(name)):
                out.add(name)
                break
    return out


def is_compacted(name: str) -> bool:
    match = PART_RE.match(name)
    return match is not None and match.group(2) is not None


def drop_superseded(parts: Mapping[str, int]) -> dict[str, int]:
    """``<worker>/<part name>`` -> rows (a manifest's or an account's list) without the
    parts a compacted part in the same list covers."""
    by_worker: dict[str, list[str]] = {}
    for key in parts:
        worker, _, name = key.rpartition("/")
        by_worker.setdefault(worker, []).append(name)
    gone = {f"{w}/{n}" for w, names in by_worker.items() for n in superseded(names)}
    return {k: v for k, v in parts.items() if k not in gone}


def worker_of_dir(name: str) -> str:
    """The worker id of a folder under ``requests/`` (``worker=<id>``, or layout 1's ``<id>``)."""
    prefix = f"{WORKER_KEY}="
    return name[len(prefix) :] if name.startswith(prefix) else name


def part_worker(part: Path) -> str:
    """The worker that wrote a part (from its folder)."""
    return worker_of_dir(Path(part).parent.name)


def part_key(part: Path) -> str:
    """``<worker>/<part name>``: how manifests, accounts and reports name a part."""
    return f"{part_worker(part)}/{Path(part).name}"


def worker_dirs(run_dir: str | Path) -> dict[str, Path]:
    """Worker id -> its folder of parts, for both layouts."""
    return {worker_of_dir(d.name): d for d in _worker_folders(run_dir)}


def _worker_folders(run_dir: str | Path) -> list[Path]:
    root = Path(run_dir) / REQUESTS_DIR
    if not root.is_dir():
        return []
    return [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith((".", "_"))]


def write_part(
    run_dir: str | Path, worker_id: str, seq: int, columns: Mapping[str, Sequence[Any]] | pa.Table
) -> Path:
    """Write one batch of request records atomically; returns the part's path."""
    table = columns if isinstance(columns, pa.Table) else requests_table(columns)
    path = part_path(Path(run_dir), worker_id, seq)
    _atomic_write_table(path, table, **part_write_options(table.schema))
    return path


def health_part_path(run_dir: str | Path, seq: int) -> Path:
    return Path(run_dir) / HEALTH_DIR / f"part-{seq:05d}.parquet"


def write_health(run_dir: str | Path, rows: Mapping[str, Sequence[Any]], seq: int = 0) -> Path:
    """Write health samples as health part `seq` (atomically); returns its path."""
    arrays = []
    count = len(rows["time_us"])
    for fld in HEALTH_SCHEMA:
        values = rows.get(fld.name, [None] * count)  # columns added later may be missing
        if pa.types.is_dictionary(fld.type):
            arrays.append(pa.array(values, type=pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(values, type=fld.type))
    path = health_part_path(run_dir, seq)
    _atomic_write_table(path, pa.Table.from_arrays(arrays, schema=HEALTH_SCHEMA))
    return path


# ---------------------------------------------------------------- reading


def list_parts(run_dir: str | Path) -> list[Path]:
    """THE request parts of a run: every reader asks this function, and only it.

    By worker then sequence number; both layouts (``requests/worker=<id>/`` and layout
    1's ``requests/<id>/``); temporary files of atomic writes ignored; a small part
    that a compacted part covers (`superseded`) dropped."""
    folders = {f.name: f for f in _worker_folders(run_dir)}
    chosen = parts_among({name: [p.name for p in f.iterdir()] for name, f in folders.items()})
    return [folders[folder] / name for folder, name in chosen]


def parts_among(listing: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """`list_parts`'s choice from a listing (folder under ``requests/`` -> file names),
    as (folder, part name): the same rule for a listing of S3 keys (`surge report
    s3://` streaming a large run)."""
    out = []
    for folder in sorted(listing):
        if folder.startswith((".", "_")):
            continue
        names = [n for n in listing[folder] if PART_RE.match(n)]
        gone = superseded(names)
        kept = [n for n in names if n not in gone]
        out += [(folder, n) for n in sorted(kept, key=lambda n: (part_span(n), n))]
    return out


def read_requests(
    run_dir: str | Path, columns: Sequence[str] | None = None, skip: Collection[Path] = ()
) -> pa.Table:
    """All request records of a run as one Arrow table (only `columns`, when given).

    Dictionary columns stay dictionary-encoded, so ``to_pandas()`` yields
    categoricals: 10 million rows fit in memory comfortably.
    """
    read_manifest(run_dir)
    parts = [p for p in list_parts(run_dir) if p not in skip]  # skip: known damaged parts
    if not parts:
        raise RunDirError(
            "no request parts under requests/: the run recorded nothing", str(run_dir)
        )
    unknown = set(columns or ()) - set(REQUEST_SCHEMA.names)
    if unknown:
        raise ValueError(f"unknown request columns: {sorted(unknown)}")
    schema = (
        REQUEST_SCHEMA if columns is None else pa.schema([REQUEST_SCHEMA.field(c) for c in columns])
    )
    tables = []
    for part in parts:
        try:
            missing = set(schema.names) - set(pq.read_schema(part).names)
            if missing:
                raise RunDirError(
                    f"request part does not match the results contract: missing {sorted(missing)}",
                    str(part),
                )
            table = pq.read_table(part, columns=list(schema.names))
        except (pa.ArrowException, OSError) as exc:
            raise RunDirError(f"corrupt request part: {exc}", str(part)) from None
        try:
            tables.append(table.cast(schema))
        except (pa.ArrowException, ValueError) as exc:
            raise RunDirError(
                f"request part does not match the results contract: {exc}", str(part)
            ) from None
    return pa.concat_tables(tables)


def health_files(run_dir: str | Path) -> list[Path]:
    """The run's generator health files: ``health/*.parquet`` (parts, in order), else
    layout 1's ``health.parquet``."""
    folder = Path(run_dir) / HEALTH_DIR
    found = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    old = Path(run_dir) / OLD_HEALTH_FILE
    return found or ([old] if old.exists() else [])


def read_health(run_dir: str | Path) -> pa.Table | None:
    """The generator health samples of a run, or None when it has none."""
    tables = []
    for path in health_files(run_dir):
        try:
            tables.append(pq.read_table(path))
        except (pa.ArrowException, OSError) as exc:
            raise RunDirError(f"corrupt health file: {exc}", str(path)) from None
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="default").unify_dictionaries()


def read_summary(report_dir: str | Path) -> dict[str, Any]:
    """A report's ``summary.json`` (written by `surge report`), version checked.

    Raises `RunDirError` when it is missing or not JSON, `FormatVersionError` (exit 2)
    for a summary of a major version this surge does not know."""
    path = Path(report_dir) / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunDirError(f"cannot read the report summary: {exc}", str(path)) from None
    if not isinstance(summary, dict):
        raise RunDirError("summary.json is not a JSON object", str(path))
    check_format_version(summary.get("summary_version"), {SUMMARY_VERSION}, "summary", str(path))
    return summary


def write_status(run_dir: str | Path, status: Mapping[str, Any]) -> Path:
    """Replace ``status.json`` atomically (readers never see half a file)."""
    path = Path(run_dir) / STATUS_FILE
    versioned = {**status, "format_version": STATUS_FORMAT_VERSION}
    # rewritten every second: an fsync each time would cost more than a lost status is worth
    atomic_write_bytes(path, json.dumps(versioned, indent=1, sort_keys=True).encode(), fsync=False)
    return path


def read_status(run_dir: str | Path) -> dict[str, Any] | None:
    """The live (or final) status of a run, or None when there is none yet.

    Raises `FormatVersionError` (exit 2) for a status of a major version this surge does
    not know; one without a version is the first one."""
    try:
        return parse_status(
            (Path(run_dir) / STATUS_FILE).read_text(), str(Path(run_dir) / STATUS_FILE)
        )
    except (OSError, json.JSONDecodeError):
        return None


def parse_status(text: str, where: str = STATUS_FILE) -> dict[str, Any]:
    """A ``status.json`` document, version checked (`json.JSONDecodeError` if not JSON)."""
    status = json.loads(text)
    if not isinstance(status, dict):
        raise json.JSONDecodeError("status.json is not an object", text, 0)
    check_format_version(status.get("format_version", 1), {STATUS_FORMAT_VERSION}, "status", where)
    return status
