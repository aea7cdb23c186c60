"""Worker accounts: what each generator process itself says it wrote.

A worker's recorder (`locustfiles.part_ledger`) rewrites
``requests/worker=<worker_id>/_account.json`` after every part (and after compacting
them at the end): its parts and the rows each holds, rows it could not write, a write
failure and, once known, how its run ended (``{"kind": "master lost" | "disk full",
"at": epoch, "reason": ...}``). The account travels with the parts, so a report can
name what is missing or damaged even when the master that should have written the
manifest is gone. The leading ``_`` makes query engines (Athena, Hive, Spark) skip it
when they read the folder as a table partition. Layout 1 runs named it ``account.json``
(`OLD_ACCOUNT_FILE`); readers take either. Readers skip an unreadable one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from surge.results import worker_dir, worker_dirs

logger = logging.getLogger(__name__)

ACCOUNT_FILE = "_account.json"
OLD_ACCOUNT_FILE = "account.json"  # results layout 1
ACCOUNT_VERSION = 1


def account_path(run_dir: str | Path, worker_id: str) -> Path:
    return worker_dir(run_dir, worker_id) / ACCOUNT_FILE


def read_accounts(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Every worker account of a run directory: worker id -> account."""
    accounts: dict[str, dict[str, Any]] = {}
    for worker, folder in worker_dirs(run_dir).items():
        path = folder / ACCOUNT_FILE
        if not path.exists():
            path = folder / OLD_ACCOUNT_FILE
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            logger.warning("unreadable worker account %s", path)
            continue
        if isinstance(data, dict) and isinstance(data.get("parts"), dict):
            accounts[worker] = data
    return accounts
