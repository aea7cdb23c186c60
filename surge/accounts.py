"""Worker accounts: what each generator process itself says it wrote.

A worker's recorder (`locustfiles.part_ledger`) rewrites
``requests/<worker_id>/account.json`` after every part: its parts and the rows each
holds, rows it could not write, a write failure and, once known, how its run ended
(``{"kind": "master lost" | "disk full", "at": epoch, "reason": ...}``). The account
travels with the parts, so a report can name what is missing or damaged even when the
master that should have written the manifest is gone. Readers skip an unreadable one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from surge.results import REQUESTS_DIR

logger = logging.getLogger(__name__)

ACCOUNT_FILE = "account.json"
ACCOUNT_VERSION = 1


def account_path(run_dir: str | Path, worker_id: str) -> Path:
    return Path(run_dir) / REQUESTS_DIR / worker_id / ACCOUNT_FILE


def read_accounts(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Every worker account of a run directory: worker id -> account."""
    root = Path(run_dir) / REQUESTS_DIR
    accounts: dict[str, dict[str, Any]] = {}
    if not root.is_dir():
        return accounts
    for path in sorted(root.glob(f"*/{ACCOUNT_FILE}")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            logger.warning("unreadable worker account %s", path)
            continue
        if isinstance(data, dict) and isinstance(data.get("parts"), dict):
            accounts[path.parent.name] = data
    return accounts
