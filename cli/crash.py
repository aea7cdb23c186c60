"""What a crash (a bug in surge, not a user mistake) looks like from outside: exit 5.

A traceback on stderr with exit 1 would read, to CI, as "thresholds failed": a
crashed tool taken for a slow shop. So the front door catches what no `SurgeError`
explains, writes the full traceback to a file, prints one line saying where, and
exits `ExitCode.INTERNAL_ERROR`.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from surge import __version__
from surge.errors import ExitCode

#: test-only hook: ``SURGE_TEST_CRASH=<command>`` makes that subcommand raise on purpose,
#: so a test can check the crash path end to end without a real bug to trigger
CRASH_ENV = "SURGE_TEST_CRASH"
#: where traceback files go (default: the system's temporary folder)
CRASH_DIR_ENV = "SURGE_CRASH_DIR"


class DeliberateCrash(RuntimeError):
    """Raised by the test-only hook; deliberately not a `SurgeError`."""


def crash_if_asked(command: str | None) -> None:
    if command and os.environ.get(CRASH_ENV) == command:
        raise DeliberateCrash(f"deliberate crash in `surge {command}` ({CRASH_ENV})")


def write_traceback(exc: BaseException, argv: Sequence[str] | None) -> Path:
    """The full traceback, with what was run and by which surge, in a new file."""
    folder = Path(os.environ.get(CRASH_DIR_ENV) or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="surge-crash-", suffix=".txt", dir=folder)
    args = list(sys.argv[1:] if argv is None else argv)
    header = (
        f"surge {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"command: surge {' '.join(args)}\n\n"
    )
    with os.fdopen(fd, "w") as fh:
        fh.write(header + "".join(traceback.format_exception(exc)))
    return Path(name)


def report_crash(exc: BaseException, argv: Sequence[str] | None) -> ExitCode:
    """Print ``error: internal error: <exc> (traceback: <path>)`` and return exit 5."""
    what = " ".join(f"{type(exc).__name__}: {exc}".split())  # one line, whatever exc says
    try:
        where = f"traceback: {write_traceback(exc, argv)}"
    except OSError as write_error:  # a full disk must not hide the crash itself
        where = f"traceback not written: {write_error}"
    print(f"error: internal error: {what} ({where})", file=sys.stderr)
    return ExitCode.INTERNAL_ERROR
