"""What the agent tells about an ending: the master's note, and its own exit code.

The agent is the one that knows why it stops Locust (the kill switch, the hard end, a
signal, a spot notice). A master agent writes that as the ending note
(`surge.locustfiles.endings.write_note`) *before* it signals the master, so the master's
manifest says who ended the run and when. A worker agent's exit code says whether its
own part is safe: 0 when its records are all in S3, 4 when its workers lost the master
or their disk (Locust exited 4), 130 when it was signalled or its spot instance is
being reclaimed.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from surge.errors import ExitCode
from surge.locustfiles.endings import write_note
from surge.manifest import AbortedBy

log = logging.getLogger("surge.agent")


class Ending(enum.Enum):
    """Why the load ended, as logged and as the exit code reports it."""

    FINISHED = "finished"  # Locust exited by itself (end of schedule, worker lost its master)
    ABORTED = "aborted"  # the kill switch
    HARD_END = "hard end"  # the dead-man's switch
    SIGNALLED = "signalled"  # SIGTERM/SIGINT to the agent (instance shutting down, Ctrl-C)
    SPOT = "spot interruption"  # the instance's two-minute spot warning


def note_for_master(
    run_dir: Path, ending: Ending, stop: dict[str, Any] | None = None, at: float | None = None
) -> None:
    """Write the master's ending note for an ending the agent decided."""
    if ending is Ending.ABORTED:
        stop = stop or {}
        who = stop.get("host") or "unknown host"
        reason = f"{stop.get('reason') or 'surge abort'} (stop object written by {who})"
        at = stop.get("requested_at") or at
        by = AbortedBy.KILL_SWITCH
    elif ending is Ending.HARD_END:
        by, reason = AbortedBy.HARD_END, "the hard end was reached (the agent's dead-man's switch)"
    elif ending is Ending.SIGNALLED:
        by, reason = AbortedBy.PERSON, "the master's agent was signalled (SIGTERM/SIGINT)"
    else:
        return
    try:
        write_note(run_dir, by, reason, at)
    except OSError as exc:  # the master then says "a person": less precise, still not a pass
        log.error("cannot write the ending note: %s", exc)
    log.info("ending note for the master: %s: %s", by.value, reason)


def worker_exit_code(ending: Ending, locust_codes: Sequence[int | None]) -> ExitCode:
    """A worker agent's exit code once its results are uploaded."""
    if ending in (Ending.SIGNALLED, Ending.SPOT):
        return ExitCode.INTERRUPTED
    if ending is Ending.HARD_END or ExitCode.INFRASTRUCTURE in locust_codes:
        return ExitCode.INFRASTRUCTURE  # master lost, disk full, or cut by the hard end
    return ExitCode.PASSED


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")
