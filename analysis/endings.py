"""What a report must say about how a run ended and what it is missing.

A run's figures are only as complete as its parts. This module finds, before the
records are read, the request parts that cannot be read (a disk error, a partial copy)
and the parts a worker wrote that are not there, with the rows each held (from the
manifest's per-part counts, or the worker's own account when the master never wrote
them); `read_records_tolerant` then reads every part that can be read. `incomplete`
lists every reason the run is incomplete (damaged or missing parts, a master that never
finished the manifest, the hard end, a worker's full disk, lost workers' records), and
`ending_status` turns the manifest's ending into the verdict's status, so an aborted,
interrupted or incomplete run never passes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from surge.accounts import read_accounts
from surge.analysis.remote_parts import fetch_parts, key_of, parts_of, source, worker_of
from surge.errors import RunDirError
from surge.manifest import AbortedBy, Manifest
from surge.results import REQUESTS_DIR, drop_superseded, list_parts, part_key

CHECK_THREADS = 4


@dataclass(frozen=True)
class DamagedPart:
    """A request part the report could not use."""

    part: str  # "<worker>/part-NNNNN.parquet"
    problem: str  # "unreadable: ...", "missing"
    rows: int | None  # requests it held, when the manifest or the worker's account says

    def describe(self) -> str:
        held = "an unknown number of" if self.rows is None else f"{self.rows:,}"
        return f"{self.part} ({self.problem}; {held} requests)"

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "problem": self.problem, "rows": self.rows}


def expected_parts(run_dir: Path, manifest: Manifest) -> dict[str, int]:
    """``<worker>/<part>`` -> rows, from the manifest's per-part counts and the workers'
    accounts (an account knows parts written after the master's last report)."""
    counts: dict[str, int] = {}
    for worker, account in read_accounts(run_dir).items():
        for name, rows in account["parts"].items():
            counts[f"{worker}/{name}"] = int(rows)
    for key, rows in manifest.parts.items():
        counts.setdefault(key, rows)
    # a list written before the worker compacted its parts names the small ones: a
    # compacted file among the run's parts (or in a newer list) covers them, so they
    # are not missing. The parts: where the report reads them (on disk, or in S3)
    present = {key_of(p): 0 for p in parts_of(run_dir)}
    kept = drop_superseded({**present, **counts})
    return {k: v for k, v in counts.items() if k in kept}


def _rel(part: Path) -> str:
    return part_key(part)


def _footer_problem(part: Path) -> str | None:
    try:
        pq.read_metadata(part)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return f"unreadable: {str(exc).splitlines()[0][:160]}"
    return None


def check_parts(run_dir: Path, manifest: Manifest) -> list[DamagedPart]:
    """Parts whose footer cannot be read, and parts known to exist that are not there."""
    expected = expected_parts(run_dir, manifest)
    parts = list_parts(run_dir)
    with ThreadPoolExecutor(CHECK_THREADS) as pool:
        problems = list(pool.map(_footer_problem, parts))
    damaged = [
        DamagedPart(_rel(p), problem, expected.get(_rel(p)))
        for p, problem in zip(parts, problems, strict=True)
        if problem is not None
    ]
    present = {_rel(p) for p in parts}
    damaged += [
        DamagedPart(key, "missing", rows)
        for key, rows in sorted(expected.items())
        if key not in present
    ]
    return damaged


def read_records_tolerant(
    run_dir: Path,
    manifest: Manifest,
    read: Callable[[Path, frozenset[Path]], Any],
) -> tuple[Any, list[DamagedPart]]:
    """`read(run_dir, skip)` every readable part; returns its result and the damage.

    Footers are checked first (cheap, in threads: a truncated or overwritten part has
    none); a part that breaks later while being decoded is named by the reader's
    `RunDirError` and skipped on the next attempt. `read` reads files: parts the report
    would read from S3 (`analysis.remote_parts`) are downloaded first.
    """
    fetch_parts(run_dir)
    damaged = check_parts(run_dir, manifest)
    expected = expected_parts(run_dir, manifest)
    root = Path(run_dir) / REQUESTS_DIR
    paths = {_rel(p): p for p in list_parts(run_dir)}
    skip = {paths[d.part] for d in damaged if d.part in paths}
    while True:
        if damaged and len(skip) >= len(list_parts(run_dir)):
            raise RunDirError(
                "no readable request part: " + "; ".join(d.describe() for d in damaged),
                str(root),
            )
        try:
            return read(run_dir, frozenset(skip)), damaged
        except RunDirError as exc:
            bad = Path(exc.where or "")
            if bad in skip or bad not in paths.values():
                raise
            skip.add(bad)
            damaged.append(DamagedPart(_rel(bad), f"unreadable: {exc.what[:160]}",
                                       expected.get(_rel(bad))))  # fmt: skip


def incomplete(manifest: Manifest, run_dir: Path, damaged: list[DamagedPart]) -> list[str]:
    """Every reason the run's records are incomplete (empty: complete)."""
    reasons: list[str] = []
    if damaged:
        known = [d.rows for d in damaged if d.rows is not None]
        rows = f"{sum(known):,} requests" if len(known) == len(damaged) else "requests"
        reasons.append(
            f"{len(damaged)} request part(s) could not be read, {rows} missing: "
            + "; ".join(d.describe() for d in damaged)
        )
    if manifest.state is not None and not manifest.state.final:
        reasons.append(master_lost(manifest, run_dir))
    reasons += manifest.incomplete
    for lost in manifest.lost_workers:
        counted = int(lost.get("records_counted") or 0)
        missing = counted - _rows_on_disk(run_dir, str(lost.get("id")))  # what arrived since
        if missing > 0:
            reasons.append(
                f"worker {lost.get('id')} lost at {lost.get('lost_at')}: "
                f"{missing:,} of the {counted:,} requests it reported are not in "
                "the records"
            )
    return list(dict.fromkeys(reasons))


def _rows_on_disk(run_dir: Path, worker: str) -> int:
    """Rows of `worker`'s readable parts, where the report reads them (disk or S3)."""
    rows = 0
    for part in parts_of(run_dir):
        if worker_of(part) == worker:
            try:
                rows += pq.read_metadata(source(part)).num_rows
            except (pa.ArrowException, OSError, ValueError):
                continue  # unreadable: its rows are not in the records either
    return rows


def master_lost(manifest: Manifest, run_dir: Path) -> str:
    """The manifest was never finished: say so, and what the workers knew."""
    state = manifest.state.value if manifest.state else "unknown"
    said = []
    for worker, account in sorted(read_accounts(run_dir).items()):
        ending = account.get("ending") or {}
        if ending.get("kind"):
            said.append(f"{worker}: {ending['kind']}")
    told = f" (workers: {', '.join(said)})" if said else ""
    return (
        f"the master never finished the run (manifest state {state!r}): master lost; "
        f"totals and thresholds cover only what the workers uploaded{told}"
    )


def ending_status(manifest: Manifest, reasons: list[str]) -> str | None:
    """The verdict status the ending forces: "incomplete", "interrupted", "aborted"
    (by an abort_on_fail threshold) or None (the thresholds decide)."""
    abort = manifest.abort
    if reasons or (abort is not None and abort.by is AbortedBy.HARD_END):
        return "incomplete"
    if abort is not None and abort.by in (AbortedBy.PERSON, AbortedBy.KILL_SWITCH):
        return "interrupted"
    if abort is not None and abort.by is AbortedBy.THRESHOLD:
        return "aborted"
    return None
