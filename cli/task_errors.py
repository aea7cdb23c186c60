"""Exceptions the scenario's tasks raised, for the end-of-run summary.

A task that raises (a `KeyError` on a response, a request to a host outside
`allow_hosts`) is not a request: nothing of it reaches the records, so the figures and
the verdict cannot show it, and the task's later requests were never sent. The workers
count them per (task, exception type) and the master writes the sums into the manifest
(``scenario_errors``, format_minor 3); `surge run` and `surge report` repeat them here so
a scenario bug is not mistaken for a healthy run. For runs from before that (an older
manifest) the run's logs are scanned instead: the dispatcher logs each distinct message
once (`locustfiles/dispatcher.py` `_log_once`).
"""

from __future__ import annotations

from pathlib import Path

MARKER = "a task failed (logged once): "  # dispatcher._log_once's message
MAX_SHOWN = 3
#: the manifest minor from which workers count task exceptions (surge.manifest)
COUNTED_SINCE_MINOR = 3
CONSEQUENCE = (
    "not a request, so the report and verdict do not count it, and the task's requests "
    "after it were not sent"
)


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


def counted_lines(run_dir: Path) -> list[str] | None:
    """Lines from the manifest's counts; None for a run whose workers did not count them
    (no readable manifest, or one older than `COUNTED_SINCE_MINOR`)."""
    from surge.errors import RunDirError
    from surge.manifest import Manifest

    try:
        manifest = Manifest.load(run_dir)
    except RunDirError:
        return None
    if manifest.format_minor < COUNTED_SINCE_MINOR:
        return None
    return [
        f"a task raised {e.error} {e.count:,} time{'s' if e.count != 1 else ''} in task "
        f"{e.task} ({e.example}): {CONSEQUENCE}"
        for e in manifest.scenario_errors
    ]


def task_error_lines(run_dir: Path) -> list[str]:
    """One summary line per (task, exception type) from the manifest, or per distinct
    logged exception for an older run (at most `MAX_SHOWN`, then a count)."""
    lines, source = counted_lines(run_dir), "the report"
    if lines is None:
        lines = [f"a task raised {text} ({where}): {CONSEQUENCE}"
                 for text, where in task_errors(run_dir).items()]  # fmt: skip
        source = "the logs"
    if len(lines) > MAX_SHOWN:
        more = len(lines) - MAX_SHOWN
        lines = [*lines[:MAX_SHOWN], f"... and {more} other task exceptions (see {source})"]
    return lines


def client_switch_lines(run_dir: Path) -> list[str]:
    """Users moved to Locust's own client at call time (`locustfiles.client_switch`), from
    the manifest's ``scenario_client``: the figures come partly from that client."""
    from surge.errors import RunDirError
    from surge.locustfiles.client_switch import switch_lines
    from surge.manifest import Manifest

    try:
        manifest = Manifest.load(run_dir)
    except RunDirError:
        return []
    return switch_lines(manifest.scenario_client)
