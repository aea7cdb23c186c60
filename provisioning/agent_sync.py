"""Keeping S3 and a live run in step: upload results as they appear, watch for a stop.

`RunUploader` mirrors the local run directory to ``s3://bucket/runs/<run_id>/``
every `UPLOAD_INTERVAL_S`, so an instance that dies has uploaded all but its
last few seconds of request parts. Nothing is ever deleted locally. A worker compacts
its small parts into large files while the run goes on (rolling compaction,
`locustfiles.compaction`): a compacted file is uploaded like any new file, and once it
is in S3 the small part objects it covers are deleted there (never before), so query
engines that read every object of a prefix (Athena) count each request once and the
bucket holds few objects even mid-run. A small part deleted that way is never uploaded
again, though the worker may not have deleted its local copy yet. When S3 cannot
be reached, files that could not be uploaded stay on disk and the next rounds come
with a growing backoff (up to `MAX_BACKOFF_S`) while the run goes on; after the run,
`final_sync` keeps trying for `FINAL_RETRY_S` and then fails naming every file that
is still only local (the agent exits with the infrastructure code). `StopWatcher`
polls the run's stop object (the fleet-wide kill switch) every `STOP_POLL_S`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from surge.errors import SurgeError
from surge.results import REQUESTS_DIR, STATUS_FILE, superseded
from surge.s3 import S3Error, S3Store, S3Url, stop_url

UPLOAD_INTERVAL_S = 5.0  # parts are written at least every 10 s; half that keeps loss < 10 s
MAX_BACKOFF_S = 30.0  # S3 unreachable: rounds back off from the interval up to this
#: after the run, how long to keep retrying uploads before giving up (exit 4)
FINAL_RETRY_S = float(os.environ.get("SURGE_UPLOAD_RETRY_S") or 300.0)
FINAL_RETRY_PAUSE_S = 2.0
MAX_NAMED_FILES = 20  # files named in the final error (the rest are counted)
STOP_POLL_S = 1.0  # the kill switch must stop all load within 5 s; the issue allows <= 2 s

log = logging.getLogger("surge.agent")


class RunUploader:
    """Uploads new or changed files of a run directory, in a background thread.

    A file is (re-)uploaded when its size or modification time changed since its
    last successful upload: request parts are written once (atomically), while
    logs and the manifest grow or are rewritten. `status.json`, rewritten every
    second, is uploaded only by `final_sync`.
    """

    def __init__(
        self,
        store: S3Store,
        run_dir: Path,
        prefix: S3Url,
        *,
        interval_s: float | None = None,
        skip: Callable[[Path], bool] | None = None,
    ) -> None:
        self.store = store
        self.run_dir = Path(run_dir)
        self.prefix = prefix
        self.interval_s = interval_s or UPLOAD_INTERVAL_S
        self.skip = skip
        self.uploaded: dict[Path, tuple[int, int]] = {}
        self.failed: dict[Path, S3Error] = {}
        #: small parts deleted from S3 because a compacted object covers them: never
        #: uploaded again (the worker deletes its local copy a moment later, or a crash
        #: left it there; readers drop it either way)
        self.dropped: set[Path] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="run-uploader", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        wait = self.interval_s
        while not self._stop.wait(wait):
            left = self.sync(include_status=False)
            # an outage: back off (files stay on disk), back to the interval once it is over
            wait = min(wait * 2, MAX_BACKOFF_S) if left else self.interval_s

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def pending(self, include_status: bool) -> list[Path]:
        """Files whose current version is not in S3 yet (temp files of atomic writes excluded)."""
        if not self.run_dir.is_dir():
            return []
        found = []
        for path in sorted(self.run_dir.rglob("*")):
            rel = path.relative_to(self.run_dir)
            if not path.is_file() or any(p.startswith(".") for p in rel.parts):
                continue
            if (rel.as_posix() == STATUS_FILE and not include_status) or (
                self.skip and self.skip(rel)
            ):
                continue
            if rel in self.dropped:
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # rotated or replaced under us; next round
                continue
            if self.uploaded.get(rel) != (stat.st_size, stat.st_mtime_ns):
                found.append(rel)
        return found

    def sync(self, include_status: bool = True) -> int:
        """Upload what changed; return how many files are still not uploaded."""
        left = 0
        for rel in self.pending(include_status):
            path = self.run_dir / rel
            try:
                stat = path.stat()
                self.store.put_file(self.prefix.join(rel.as_posix()), path)
            except FileNotFoundError:
                continue
            except S3Error as exc:
                self.failed[rel] = exc
                left += 1
                log.warning("upload failed, kept locally for the next round: %s", exc)
                continue
            self.uploaded[rel] = (stat.st_size, stat.st_mtime_ns)
            self.failed.pop(rel, None)
        return left + self.drop_superseded()

    def drop_superseded(self) -> int:
        """Delete the uploaded small parts that an uploaded compacted part covers (only
        after the compacted one is in S3: a crash before leaves both, which readers
        handle); returns how many deletions failed (retried next round)."""
        folders: dict[Path, list[str]] = {}
        for rel in self.uploaded:
            if len(rel.parts) == 3 and rel.parts[0] == REQUESTS_DIR:
                folders.setdefault(rel.parent, []).append(rel.name)
        failed = 0
        for folder, names in folders.items():
            for name in sorted(superseded(names)):
                rel = folder / name
                try:
                    self.store.delete(self.prefix.join(rel.as_posix()))
                except S3Error as exc:
                    self.failed[rel] = exc
                    failed += 1
                    log.warning("could not delete a compacted part from S3: %s", exc)
                    continue
                self.uploaded.pop(rel)
                self.failed.pop(rel, None)
                self.dropped.add(rel)
        return failed

    def final_sync(self, retry_s: float | None = None) -> None:
        """The last upload after the run, retried for `retry_s` (default `FINAL_RETRY_S`);
        raises S3Error naming the files still only on local disk."""
        self.stop()
        deadline = time.monotonic() + (FINAL_RETRY_S if retry_s is None else retry_s)
        left = self.sync(include_status=True)
        while left and time.monotonic() < deadline:
            log.warning("%d result files not in S3 yet; retrying", left)
            time.sleep(min(FINAL_RETRY_PAUSE_S, max(deadline - time.monotonic(), 0.0)))
            left = self.sync(include_status=True)
        if left:
            first = next(iter(self.failed.values()))
            names = sorted(p.as_posix() for p in self.failed)
            shown = ", ".join(names[:MAX_NAMED_FILES])
            more = (
                f" and {len(names) - MAX_NAMED_FILES} more" if len(names) > MAX_NAMED_FILES else ""
            )
            raise S3Error(
                f"{left} result files could not be uploaded and are kept in "
                f"{self.run_dir}: {shown}{more} ({first.what})",
                str(self.prefix),
                first.failure,
            )


class StopWatcher:
    """Polls the run's stop object; calls `on_stop` once when it appears.

    A failed poll is logged and tried again: an S3 hiccup must not stop a run,
    and the hard end time covers a kill switch that cannot be read.
    """

    def __init__(
        self,
        store: S3Store,
        run: S3Url,
        on_stop: Callable[[], None],
        *,
        poll_s: float | None = None,
    ) -> None:
        self.store = store
        self.url = stop_url(run)
        self.on_stop = on_stop
        self.poll_s = poll_s or STOP_POLL_S
        self.stopped = threading.Event()
        self.body: dict = {}  # the stop object: reason, host, requested_at (who and when)
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="stop-watcher", daemon=True)
        self._thread.start()

    def check(self) -> bool:
        """One poll; True once the stop object exists."""
        if self.stopped.is_set():
            return True
        try:
            found = self.store.exists(self.url)
        except SurgeError as exc:
            log.warning("cannot read the stop object, will retry: %s", exc)
            return False
        if found:
            log.warning("stop requested (%s)", self.url)
            self.body = self._read_body()
            self.stopped.set()
            self.on_stop()
        return found

    def _read_body(self) -> dict:
        try:
            body = json.loads(self.store.get_bytes(self.url))
        except (SurgeError, ValueError) as exc:
            log.warning("cannot read the stop object's reason: %s", exc)
            return {}
        return body if isinstance(body, dict) else {}

    def _loop(self) -> None:
        while not self._quit.is_set() and not self.check():
            self._quit.wait(self.poll_s)

    def close(self) -> None:
        self._quit.set()
        if self._thread:
            self._thread.join()
