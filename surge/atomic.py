"""The one atomic file writer: a reader sees all of a file or none of it.

Every file another process may read while it is being written (the manifest, the
live ``status.json``, request parts, report files, downloads) goes through here: the
data is written to a hidden temporary file beside the target, flushed, and renamed
over it (`os.replace` is atomic on one file system).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def temp_path(path: Path) -> Path:
    """The hidden temporary name `path` is written under (per process, so two writers
    of the same file never share one)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write(path: str | Path, write: Callable[[Path], None], *, fsync: bool = False) -> Path:
    """Call ``write(tmp)`` to fill a temporary file, then rename it over `path`.

    `fsync` forces the bytes to disk before the rename (for files that must survive a
    power cut, like the manifest); a crash in `write` leaves no temporary behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        write(tmp)
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> Path:
    """Replace `path` with `data` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), fsync=fsync)


def atomic_write_text(path: str | Path, text: str, *, fsync: bool = False) -> Path:
    """Replace `path` with `text` (UTF-8) atomically."""
    return atomic_write_bytes(path, text.encode(), fsync=fsync)
