"""What a worker's recorder has written: per-part row counts, failed writes, its account.

The recorder hands each batch to `PartLedger.write`, which writes it in gevent's
threadpool. `collect` notes every finished write: a part that is on disk joins `parts`
(name -> rows) and is reported to the master once (`take_new`), so the manifest can say
how many requests each part held; a write that failed (a full disk) sets `failure`, and
the batch is kept in memory and tried once more at the final `collect(wait=True)`.
Nothing that was not written is forgotten: its rows stay counted in `rows_unwritten`.

After every change the ledger rewrites the worker's *account*,
``requests/<worker_id>/account.json``: its parts and their rows, rows it could not write,
the failure and, once known, how its run ended. The account travels with the parts (a
worker agent uploads ``requests/``), so a report can name what is missing or damaged
even when the master that should have written the manifest is gone.
"""

from __future__ import annotations

import errno
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent

from surge.accounts import ACCOUNT_VERSION, account_path
from surge.atomic import atomic_write_bytes

logger = logging.getLogger(__name__)

WriteFn = Callable[[Path, str, int, dict[str, Any]], Path]


def describe_failure(exc: BaseException) -> str:
    """A write error as one line a person can act on."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"disk full: cannot write request parts ({exc.filename or 'run directory'})"
    return f"cannot write request parts: {type(exc).__name__}: {exc}"


class PartLedger:
    """Part writes of one recorder and their outcome.

    Attributes:
        parts: part file name -> rows, for every part known to be on disk.
        rows_unwritten: rows whose part could not be written (lost unless retried).
        failure: the first write failure, as a sentence (None: none).
        ending: how this worker's run ended, as the worker knows it (for the account).
    """

    def __init__(self, *, run_dir: Path, worker_id: str, write: WriteFn) -> None:
        self.run_dir = Path(run_dir)
        self.worker_id = worker_id
        self._write = write
        self.parts: dict[str, int] = {}
        self.rows_unwritten = 0
        self.failure: str | None = None
        self.ending: dict[str, Any] | None = None
        self._pending: list[tuple[int, dict[str, Any], Any]] = []
        self._failed: list[tuple[int, dict[str, Any]]] = []
        self._reported: set[str] = set()

    def write(self, seq: int, batch: dict[str, Any]) -> None:
        """Start writing `batch` as part `seq` in a thread."""
        pool = gevent.get_hub().threadpool
        result = pool.spawn(
            _returning_errors, self._write, self.run_dir, self.worker_id, seq, batch
        )
        self._pending.append((seq, batch, result))

    def collect(self, *, wait: bool = False) -> None:
        """Note finished writes; with `wait`, wait for all and retry failed ones once."""
        changed = False
        still: list[tuple[int, dict[str, Any], Any]] = []
        for seq, batch, result in self._pending:
            if not wait and not result.ready():
                still.append((seq, batch, result))
                continue
            path, exc = result.get()
            if exc is not None:  # a full disk must not hide the rest of the run
                self._failed_write(seq, batch, exc)
            else:
                self.parts[Path(path).name] = _rows(batch)
            changed = True
        self._pending = still
        if wait and self._failed:
            failed, self._failed = self._failed, []
            for seq, batch in failed:  # once more: space may have been freed meanwhile
                try:
                    path = self._write(self.run_dir, self.worker_id, seq, batch)
                except Exception as exc:
                    self.rows_unwritten += _rows(batch)
                    logger.error("request part %d (%d rows) lost: %s", seq, _rows(batch), exc)
                else:
                    self.parts[Path(path).name] = _rows(batch)
            changed = True
        if changed or wait:
            self.write_account()

    def _failed_write(self, seq: int, batch: dict[str, Any], exc: BaseException) -> None:
        if self.failure is None:
            self.failure = describe_failure(exc)
        logger.error("writing request part %d failed (kept in memory): %s", seq, exc)
        self._failed.append((seq, batch))

    @property
    def rows_on_disk(self) -> int:
        return sum(self.parts.values())

    @property
    def rows_held(self) -> int:
        """Rows of failed writes still in memory (retried at the end)."""
        return sum(_rows(b) for _seq, b in self._failed)

    def take_new(self) -> dict[str, int]:
        """Parts on disk not yet reported to the master (each is reported once)."""
        new = {n: r for n, r in self.parts.items() if n not in self._reported}
        self._reported.update(new)
        return new

    def account(self) -> dict[str, Any]:
        return {
            "account_version": ACCOUNT_VERSION,
            "worker": self.worker_id,
            "parts": dict(sorted(self.parts.items())),
            "rows_on_disk": self.rows_on_disk,
            "rows_unwritten": self.rows_unwritten + self.rows_held,
            "failure": self.failure,
            "ending": self.ending,
            "updated_at": time.time(),
        }

    def write_account(self) -> None:
        text = json.dumps(self.account(), indent=1, sort_keys=True).encode()
        try:
            atomic_write_bytes(account_path(self.run_dir, self.worker_id), text, fsync=False)
        except OSError as exc:  # a full disk: the master still hears it in the health report
            logger.error("cannot write the worker account: %s", exc)


def _returning_errors(write: WriteFn, *args: Any) -> tuple[Path | None, Exception | None]:
    """In the writer thread: the error as a value. A task that raises makes gevent's hub
    print a traceback to stderr, and with the disk full that print fails inside the hub,
    which then stops resuming the greenlets waiting on it (the worker hung)."""
    try:
        return write(*args), None
    except Exception as exc:
        return None, exc


def _rows(batch: dict[str, Any]) -> int:
    return len(batch["outcome"])
