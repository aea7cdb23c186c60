"""Keeping S3 and a live run in step: upload results as they appear, watch for a stop.

`RunUploader` mirrors the local run directory to ``s3://bucket/runs/<run_id>/``
every `UPLOAD_INTERVAL_S`, so an instance that dies has uploaded all but its
last few seconds of request parts. An upload that fails is retried on the next
round; the files stay on disk either way. `StopWatcher` polls the run's stop
object (the fleet-wide kill switch) every `STOP_POLL_S`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from surge.errors import SurgeError
from surge.results import STATUS_FILE
from surge.s3 import S3Error, S3Store, S3Url, stop_url

UPLOAD_INTERVAL_S = 5.0  # parts are written at least every 10 s; half that keeps loss < 10 s
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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="run-uploader", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sync(include_status=False)

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
        return left

    def final_sync(self) -> None:
        """The last upload after the run; raises S3Error when anything is still missing."""
        self.stop()
        left = self.sync(include_status=True)
        if left:
            first = next(iter(self.failed.values()))
            raise S3Error(
                f"{left} result files could not be uploaded and are kept in "
                f"{self.run_dir}: {first.what}",
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
            self.stopped.set()
            self.on_stop()
        return found

    def _loop(self) -> None:
        while not self._quit.is_set() and not self.check():
            self._quit.wait(self.poll_s)

    def close(self) -> None:
        self._quit.set()
        if self._thread:
            self._thread.join()
