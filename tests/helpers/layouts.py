"""Run directories in the other results layouts: layout 1 (before issue 17) and compacted.

`as_layout_1(run_dir)` rewrites a run directory written by today's writers as surge
wrote it before issue 17 (``requests/<worker>/part-NNNNN.parquet``, ``account.json``
among the parts, one ``health.parquet`` at the top, no ``results_layout`` in the
manifest), with old-layout Parquet writes, so readers can be checked against both.
`compact_run(run_dir)` compacts every worker's parts as a worker does at its end;
``keep_small=True`` stops before the small parts are deleted (a crash in between).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from surge.accounts import ACCOUNT_FILE, OLD_ACCOUNT_FILE
from surge.locustfiles.compaction import Compacted, compact_parts, remove_superseded
from surge.results import (
    COMPRESSION,
    HEALTH_DIR,
    MANIFEST,
    OLD_HEALTH_FILE,
    REQUESTS_DIR,
    list_parts,
    part_worker,
    read_health,
    worker_dirs,
)


def as_layout_1(run_dir: Path) -> Path:
    """Rewrite `run_dir` (layout 2) in results layout 1, in place; returns it."""
    root = run_dir / REQUESTS_DIR
    for worker, folder in worker_dirs(run_dir).items():
        old = root / worker
        old.mkdir()
        for part in sorted(folder.glob("part-*.parquet")):
            table = pq.read_table(part)
            meta = {k: v for k, v in (table.schema.metadata or {}).items()
                    if k != b"surge.results_layout"}  # fmt: skip
            pq.write_table(table.replace_schema_metadata(meta), old / part.name,
                           compression=COMPRESSION)  # fmt: skip
        if (folder / ACCOUNT_FILE).exists():
            (folder / ACCOUNT_FILE).rename(old / OLD_ACCOUNT_FILE)
        shutil.rmtree(folder)
    health = read_health(run_dir)
    if health is not None:  # one file at the top instead of health/part-*.parquet
        pq.write_table(health, run_dir / OLD_HEALTH_FILE, compression=COMPRESSION)
        shutil.rmtree(run_dir / HEALTH_DIR)
    manifest = json.loads((run_dir / MANIFEST).read_text())
    manifest.pop("results_layout", None)
    manifest["format_minor"] = 3
    (run_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return run_dir


def compact_run(run_dir: Path, *, keep_small: bool = False, **options: int) -> list[Compacted]:
    """Compact every worker's parts (options: `compact_parts`'s, e.g. target_bytes)."""
    done: list[Compacted] = []
    by_worker: dict[str, dict[str, int]] = {}
    for part in list_parts(run_dir):
        by_worker.setdefault(part_worker(part), {})[part.name] = pq.read_metadata(part).num_rows
    for worker, parts in by_worker.items():
        done += compact_parts(run_dir, worker, parts, **options)
        if not keep_small:
            remove_superseded(run_dir, worker)
    return done
