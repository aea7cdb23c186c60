"""Request parts read straight from S3: `surge report s3://...` on a large run.

A day of requests is ~5 GB of parts. Downloading them all before the report needs the
disk and the wait; the streamed report reads one Parquet row group at a time anyway
(`analysis.part_units`), so for a large run it reads the row groups from S3 instead:
each reader thread asks for the byte ranges of ONE row group (its footer first), with
HTTP range requests through `surge.s3.S3Store` (the one place S3 clients are built,
with its retries). Only the run's small files (manifest, health, accounts, logs) are
downloaded into the local run directory, where the report is written.

Which objects are the run's parts is `surge.results.parts_among`'s answer (the rule of
`list_parts`) on the S3 listing; `parts_of` answers every reader of the report (the
streamed records, `analysis.endings`' missing and lost-worker figures) from that one
list. A reader that needs the parts on disk (the one-frame reader: a knee search, more
endpoint x stage cells than the streamed histograms hold) calls `fetch_parts` first.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from surge.results import REQUESTS_DIR, list_parts, part_key, part_worker, parts_among
from surge.s3 import S3Store, S3Url, fetch_run

#: reader threads for remote parts: each waits on the network most of the time
REMOTE_READ_THREADS = 8


@dataclass(frozen=True)
class RemotePart:
    """One request part in S3."""

    store: S3Store
    url: S3Url
    size: int
    rel: PurePosixPath  # requests/<worker folder>/<part name>, as in a run directory

    @property
    def name(self) -> str:
        return self.rel.name

    @property
    def parent(self) -> PurePosixPath:
        return self.rel.parent

    def __str__(self) -> str:
        return str(self.url)

    def open(self) -> RangeFile:
        return RangeFile(self)

    @property
    def run(self) -> S3Url:
        """The run's URL (the part's key without requests/<folder>/<name>)."""
        return S3Url(self.url.bucket, self.url.key[: -len(str(self.rel)) - 1])


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over one S3 object: each read is a range request."""

    def __init__(self, part: RemotePart) -> None:
        self.part = part
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.part.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        length = min(len(view), self.part.size - self.pos)
        if length <= 0:
            return 0
        data = self.part.store.get_range(self.part.url, self.pos, length)
        view[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def size(self) -> int:
        return self.part.size


def remote_parts(
    store: S3Store, run: S3Url, objects: dict[str, tuple[int, str]]
) -> list[RemotePart]:
    """The run's request parts among `objects` (`S3Store.objects(run)`)."""
    base = f"{run.key}/{REQUESTS_DIR}/"
    listing: dict[str, list[str]] = {}
    for key in objects:
        folder, _, name = key[len(base) :].partition("/")
        if key.startswith(base) and name and "/" not in name:
            listing.setdefault(folder, []).append(name)
    out = []
    for folder, name in parts_among(listing):
        key = f"{base}{folder}/{name}"
        out.append(
            RemotePart(
                store,
                S3Url(run.bucket, key),
                objects[key][0],
                PurePosixPath(REQUESTS_DIR, folder, name),
            )
        )
    return out


def is_request_part(rel: str) -> bool:
    """Whether an object's key under the run is a request part (not downloaded when
    the report streams them)."""
    path = PurePosixPath(rel)
    return len(path.parts) == 3 and path.parts[0] == REQUESTS_DIR and path.suffix == ".parquet"


_REMOTE: contextvars.ContextVar[dict[Path, Sequence[RemotePart]] | None] = contextvars.ContextVar(
    "surge_remote_parts", default=None
)


@contextlib.contextmanager
def parts_in_s3(run_dir: Path, parts: Sequence[RemotePart]) -> Iterator[None]:
    """While inside, the report of `run_dir` reads its request parts from S3."""
    token = _REMOTE.set({**(_REMOTE.get() or {}), Path(run_dir).resolve(): parts})
    try:
        yield
    finally:
        _REMOTE.reset(token)


def parts_of(run_dir: Path) -> list[Any]:
    """The request parts of a run: in S3 inside `parts_in_s3`, else `list_parts`."""
    remote = (_REMOTE.get() or {}).get(Path(run_dir).resolve())
    return list(remote) if remote is not None else list_parts(run_dir)


def is_remote(parts: Sequence[Any]) -> bool:
    return bool(parts) and isinstance(parts[0], RemotePart)


def key_of(part: Path | RemotePart) -> str:
    """``<worker>/<part name>`` of a local or remote part (`surge.results.part_key`)."""
    return part_key(Path(part.rel) if isinstance(part, RemotePart) else part)


def worker_of(part: Path | RemotePart) -> str:
    return part_worker(Path(part.rel) if isinstance(part, RemotePart) else part)


def source(part: Path | RemotePart) -> Any:
    """What pyarrow reads a part from: the file, or range requests to its object."""
    return part.open() if isinstance(part, RemotePart) else part


def fetch_parts(run_dir: Path) -> None:
    """Download `run_dir`'s request parts when the report reads them from S3, for a
    reader that needs them on disk; from then on `parts_of` lists them there. The same
    parts (`parts_among`'s), in parallel, resumed (`surge.s3.fetch_run`)."""
    remote = _REMOTE.get()
    key = Path(run_dir).resolve()
    parts = (remote or {}).get(key)
    if remote is None or parts is None:
        return
    if parts:
        wanted = {str(p.rel) for p in parts}
        size = sum(p.size for p in parts)
        print(
            f"fetching its {len(parts)} request parts ({size / 2**20:,.0f} MB) from "
            f"{parts[0].run} into {run_dir}: this report reads them from disk",
            flush=True,
        )
        fetch_run(parts[0].store, parts[0].run, run_dir, skip=lambda rel: rel not in wanted)
    del remote[key]  # this scope's mapping (a fresh dict per `parts_in_s3`)
