"""How a run ended, told the same way by every process: the contract between agent,
master and workers for endings, and the exit code each ending gives.

Who knows what:

- The *agent* knows why it stops Locust (the kill switch, the hard end, a signal to the
  instance). Before it signals the master it writes an ending note,
  ``control/ending.json`` in the master's run directory (`write_note`).
- The *master* reads that note when Locust stops it (`read_note`); without a note, a
  stop it did not decide itself was a person's (Ctrl-C, SIGTERM, the web UI's button).
  Before it writes the final manifest it sends every worker `MSG_STOP` and waits up to
  `FINAL_REPORT_WAIT_S` for their last health reports, so the manifest's totals count
  every record the workers wrote.
- A *worker* that loses its master writes what it knows into its account
  (`locustfiles.part_ledger`) and exits with the infrastructure code.

`exit_code` maps an ending to the documented exit codes (README, "Endings").
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path
from typing import Any

from surge.atomic import atomic_write_bytes
from surge.errors import ExitCode
from surge.manifest import Abort, AbortedBy

logger = logging.getLogger(__name__)

MSG_STOP = "surge_stop"  # master -> workers: stop sending, write the last part, report
NOTE_FILE = "control/ending.json"
FINAL_REPORT_WAIT_S = 8.0  # master: wait this long for the workers' last reports (drain 1.5 s)

#: a worker's own ending, in its account (`PartLedger.ending`)
MASTER_LOST = "master lost"
DISK_FULL = "disk full"


def write_note(run_dir: Path, by: AbortedBy, reason: str, at: float | None = None) -> Path:
    """The agent's word on why it is stopping the master (read by `read_note`)."""
    body = {"by": by.value, "reason": reason, "at": at if at is not None else time.time()}
    path = Path(run_dir) / NOTE_FILE
    return atomic_write_bytes(path, json.dumps(body).encode())


def read_note(run_dir: Path) -> Abort | None:
    """The agent's ending note, or None (no agent, or it did not stop the run)."""
    path = Path(run_dir) / NOTE_FILE
    try:
        body = json.loads(path.read_text())
        by = AbortedBy(body["by"])
        at = dt.datetime.fromtimestamp(float(body["at"]), dt.UTC)
        return Abort(reason=str(body["reason"]), by=by, at=at)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring an unreadable ending note %s: %s", path, exc)
        return None


def exit_code(
    *,
    abort: Abort | None,
    incomplete: list[str],
    untrustworthy: list[str],
    thresholds_failed: bool = False,
) -> ExitCode:
    """The exit code of a run's ending; an aborted or incomplete run never gives 0.

    incomplete (hard end, master or records lost, a full disk): 4, before anything else,
    since the figures miss part of the run; a person or the kill switch: 130; an
    abort_on_fail threshold: 1; then the verdict's own order (3, 1, 0).
    """
    if incomplete or (abort is not None and abort.by is AbortedBy.HARD_END):
        return ExitCode.INFRASTRUCTURE
    if abort is not None and abort.by in (AbortedBy.PERSON, AbortedBy.KILL_SWITCH):
        return ExitCode.INTERRUPTED
    if untrustworthy:
        return ExitCode.UNTRUSTWORTHY
    if thresholds_failed or (abort is not None and abort.by is AbortedBy.THRESHOLD):
        return ExitCode.THRESHOLDS_FAILED
    return ExitCode.PASSED


def describe(abort: Abort | None) -> str | None:
    """One line: who ended the run early, why and when."""
    if abort is None:
        return None
    when = abort.at.astimezone(dt.UTC).strftime("%H:%M:%S UTC") if abort.at else "unknown time"
    return f"{abort.by.value}: {abort.reason} (at {when})"


def as_dict(abort: Abort | None) -> dict[str, Any] | None:
    if abort is None:
        return None
    at = abort.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if abort.at else None
    return {"by": abort.by.value, "reason": abort.reason, "at": at}
