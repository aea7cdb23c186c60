"""The one family of user-facing errors, and the exit codes they map to.

Every mistake a user can make (a bad schedule, a broken run directory, an
unreachable bucket) is raised as a `SurgeError` subclass and printed by the one
handler in `surge.cli` as ``error: <what> (<where>)``, never as a traceback.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The documented exit codes of every surge command (README, "Exit codes")."""

    PASSED = 0
    THRESHOLDS_FAILED = 1
    BAD_INPUT = 2
    UNTRUSTWORTHY = 3
    INFRASTRUCTURE = 4
    INTERNAL_ERROR = 5  # a crash (a bug in surge): never 0 or 1, so CI cannot misread it
    INTERRUPTED = 130


class SurgeError(Exception):
    """A problem the user can act on. `where` names the file, key or URL at fault."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, what: str, where: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.where = where

    def __str__(self) -> str:
        return f"{self.what} ({self.where})" if self.where else self.what


class UsageError(SurgeError):
    """Bad command-line usage."""


class ScheduleError(SurgeError):
    """A schedule that cannot be used; carries every problem found, one per line."""

    def __init__(self, problems: list[str], where: str | None = None) -> None:
        self.problems = list(problems)
        what = problems[0] if len(problems) == 1 else f"{len(problems)} problems in schedule"
        super().__init__(what, where)

    def details(self) -> list[str]:
        return self.problems


class RunDirError(SurgeError):
    """A run directory that is missing, partial, corrupt or of an unknown format."""


class FormatVersionError(RunDirError):
    """A versioned document (manifest, status, summary, plan message) of a major version
    this surge does not know: written by a newer (or much older) surge."""


class InfrastructureError(SurgeError):
    """S3, the target at start, terraform or another outside part failed."""

    exit_code = ExitCode.INFRASTRUCTURE
