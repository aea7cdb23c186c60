"""Exceptions the scenario's tasks raised, from the run's logs, for the end-of-run summary.

A task that raises (a `KeyError` on a response, a request to a host outside
`allow_hosts`) is not a request: nothing of it reaches the records, so the report and
the verdict cannot show it, and the task's later requests were never sent. Locust shows
such errors in its summary; surge's dispatcher logs each distinct one once
(`locustfiles/dispatcher.py` `_log_once`), and `surge run` repeats them here so a
scenario bug is not mistaken for a healthy run.
"""

from __future__ import annotations

from pathlib import Path

MARKER = "a task failed (logged once): "  # dispatcher._log_once's message
MAX_SHOWN = 3


def task_errors(run_dir: Path) -> dict[str, str]:
    """Distinct task exceptions (``Type: message``) -> the first log file naming it."""
    found: dict[str, str] = {}
    for log in sorted((run_dir / "logs").glob("*.log")):
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            _, marker, text = line.partition(MARKER)
            if marker and text.strip():
                found.setdefault(text.strip(), str(log))
    return found


def task_error_lines(run_dir: Path) -> list[str]:
    """One summary line per distinct exception (at most `MAX_SHOWN`, then a count)."""
    found = task_errors(run_dir)
    lines = [
        f"a task raised {text} ({where}): not a request, so the report and verdict do not "
        "count it, and the task's requests after it were not sent"
        for text, where in list(found.items())[:MAX_SHOWN]
    ]
    if len(found) > MAX_SHOWN:
        lines.append(f"... and {len(found) - MAX_SHOWN} other task exceptions (see the logs)")
    return lines
