"""What a worker's recorder has written: per-part row counts, failed writes, its account.

The recorder hands each batch to `PartLedger.write`, which writes it in gevent's
threadpool. `collect` notes every finished write: a part that is on disk joins `parts`
(name -> rows) and is reported to the master once (`take_new`), so the manifest can say
how many requests each part held; a write that failed (a full disk) sets `failure`, and
the batch is kept in memory and tried once more at the final `collect(wait=True)`.
Nothing that was not written is forgotten: its rows stay counted in `rows_unwritten`.

After every change the ledger rewrites the worker's *account*,
``requests/worker=<worker_id>/_account.json`` (`surge.accounts`): its parts and their
rows, rows it could not write, the failure and, once known, how its run ended. The
account travels with the parts (a worker agent uploads ``requests/``), so a report can
name what is missing or damaged even when the master that should have written the
manifest is gone.

Compaction is rolling (`locustfiles.compaction`): each `collect` during the run checks
whether the small parts on disk add up to more than `COMPACT_TARGET_BYTES`; if so (and no
compaction is under way: one at a time) it compacts them in a writer thread, and a later
`collect` finishes the job without ever blocking the event loop. At the run's end
`compact` waits for a compaction under way and compacts the tail. Every time, the
compacted files are on disk first, then the ledger and the account name them (the
master hears of them with the next report), and only then are the small parts deleted,
so a crash at any point loses nothing and, since readers drop small parts a compacted
file covers, counts nothing twice. A compaction that fails keeps the small parts (they
are complete), is logged once, and no other is tried in this run.
"""

from __future__ import annotations

import enum
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
from surge.locustfiles import compaction
from surge.locustfiles.compaction import Compacted, compact_some, remove_superseded, small_parts

logger = logging.getLogger(__name__)

WriteFn = Callable[[Path, str, int, dict[str, Any]], Path]


class Step(enum.Enum):
    """Where the compaction under way is: its files being written, or the small parts
    they replace being deleted (only after the account names the compacted files)."""

    WRITING = "writing"
    REMOVING = "removing"


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
        self._sizes: dict[str, int] = {}  # bytes on disk of the small parts
        self._job: tuple[Step, Any] | None = None  # the compaction under way (one at most)
        self._compaction_failed = False  # logged once; no other compaction this run
        self.compactions = 0  # compacted files written (rolling and at the end)

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
                self._landed(Path(path), _rows(batch))
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
                    self._landed(Path(path), _rows(batch))
            changed = True
        if changed or wait:
            self.write_account()
        if not wait:
            self.roll()

    def _landed(self, path: Path, rows: int) -> None:
        self.parts[path.name] = rows
        try:  # one stat per part, on the event loop: microseconds
            self._sizes[path.name] = path.stat().st_size
        except OSError:
            self._sizes[path.name] = 0

    # ------------------------------------------------------------------ compaction
    def _may_compact(self) -> bool:
        # a write failure: a full disk has no room for the copy, and a retried part
        # must not land inside a compacted file's span
        return self.failure is None and not self._failed and not self._compaction_failed

    def roll(self) -> None:
        """During the run (from `collect`): move the compaction under way on when its
        thread is done, or start one when the small parts reach the target. Never waits."""
        if self._job is not None:
            if not self._job[1].ready():
                return
            self._advance()
            if self._job is not None:  # removal started
                return
        if not self._may_compact():
            return
        small = sum(self._sizes.get(n, 0) for n in small_parts(self.parts))
        if small > compaction.COMPACT_TARGET_BYTES:
            self._start(tail=False)

    def compact(self) -> None:
        """End of the run: finish the compaction under way, then compact the tail (in a
        thread: the worker's heartbeat goes on meanwhile). Skipped after a write failure;
        a failed compaction keeps the small parts, which are complete."""
        self._finish_job()
        if not self._may_compact() or self._pending or not small_parts(self.parts):
            return
        self._start(tail=True)
        self._finish_job()

    def _finish_job(self) -> None:
        """Wait for the compaction under way through all its steps."""
        while self._job is not None:
            step, job = self._job
            job.wait()
            if self._job == (step, job):  # not moved on by another greenlet meanwhile
                self._advance()

    def wait_compaction_thread(self) -> None:
        """Wait until the thread of the current step is done (tests: the next `collect`
        then moves on deterministically; the run itself never waits but at its end)."""
        if self._job is not None:
            self._job[1].wait()

    def _start(self, *, tail: bool) -> None:
        pool = gevent.get_hub().threadpool
        job = pool.spawn(compact_some, self.run_dir, self.worker_id, dict(self.parts), tail=tail)
        self._job = (Step.WRITING, job)

    def _advance(self) -> None:
        """The thread of the job under way is done: take its outcome, start the next step."""
        assert self._job is not None
        step, job = self._job
        self._job = None
        if step is Step.WRITING:
            done, exc = job.get()
            if done:
                self._record(done)
                pool = gevent.get_hub().threadpool
                self._job = (Step.REMOVING, pool.spawn(_removing, self.run_dir, self.worker_id))
            if exc is not None:
                self._compaction_failed = True
                logger.error("compacting request parts failed, small parts kept "
                             "(no more compaction in this run): %s", exc)  # fmt: skip
            return
        removed, exc = job.get()
        if exc is not None:  # readers skip covered parts anyway
            logger.warning("could not delete compacted small parts: %s", exc)
        else:
            logger.info("compacted %d request parts (%d compacted files so far)",
                        removed, self.compactions)  # fmt: skip

    def _record(self, done: list[Compacted]) -> None:
        """The compacted files are on disk: the ledger and the account name them (the
        master hears of them with the next report) BEFORE any small part is deleted."""
        for compacted in done:
            for name in compacted.covers:
                self.parts.pop(name, None)
                self._sizes.pop(name, None)
                self._reported.discard(name)
            self.parts[compacted.name] = compacted.rows
        self.compactions += len(done)
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


def _removing(run_dir: Path, worker_id: str) -> tuple[int, Exception | None]:
    """In a writer thread: `remove_superseded`, its error as a value (see above)."""
    try:
        return remove_superseded(run_dir, worker_id), None
    except Exception as exc:
        return 0, exc


def _rows(batch: dict[str, Any]) -> int:
    return len(batch["outcome"])
