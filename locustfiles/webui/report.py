"""The run's report, built by the master once the run is over, so the UI can link to it.

With ``--ui`` the master outlives the run (the engineer may look around, then quit),
so the report cannot wait for ``surge run`` to build it after the master exits. After
Locust's ``test_stop`` this waits for the run's final ``status.json`` and for workers
to flush their last parts, then runs ``surge report RUN_DIR`` in a child process: the
analysis (pandas, matplotlib) must not stall the master's event loop, which keeps
talking to workers and serving the UI meanwhile. Under ``surge run --ui`` the CLI
builds the report itself (``--surge-report-by-parent``) and this only waits for it.
"""

from __future__ import annotations

import enum
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from surge.errors import SurgeError
from surge.results import FINAL_STATES, REPORT_DIR, SUMMARY_FILE, read_status, read_summary

logger = logging.getLogger(__name__)

REPORT_INDEX = "index.html"
REPORT_SUMMARY = SUMMARY_FILE
FINAL_RUN_STATES = frozenset(s.value for s in FINAL_STATES)
FINAL_WAIT_S = 15.0  # after test_stop, how long to wait for the final status.json
SETTLE_S = 3.0  # then, time for workers to drain (1.5 s) and flush their last parts
POLL_S = 0.25
BUILD_TIMEOUT_S = 180.0


class ReportState(enum.Enum):
    NOT_STARTED = "not_started"  # the run is not over
    WAITING = "waiting"  # run over; waiting for final status and last parts
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class ReportBuilder:
    """Builds ``RUN/report/`` once per run; `state`, `verdict` and `error` say how it went."""

    def __init__(self, run_dir: Path, *, external: bool = False) -> None:
        self.run_dir = Path(run_dir)
        #: someone else builds the report (``surge run --ui``: the CLI, with --junit and
        #: --compare); this only waits for it to appear, so it is never built twice
        self.external = external
        self.state = ReportState.NOT_STARTED
        self.error: str | None = None
        self._verdict: dict[str, Any] | None = None

    @property
    def out_dir(self) -> Path:
        return self.run_dir / REPORT_DIR

    def build_when_final(self) -> None:
        """Run in a greenlet on ``test_stop``; returns once the report is built or failed."""
        if self.state is not ReportState.NOT_STARTED:
            return
        self.state = ReportState.WAITING
        deadline = time.monotonic() + FINAL_WAIT_S
        while time.monotonic() < deadline:
            status = read_status(self.run_dir) or {}
            if status.get("state") in FINAL_RUN_STATES:
                break
            time.sleep(POLL_S)
        time.sleep(SETTLE_S)
        self.state = ReportState.BUILDING
        if self.external:
            self._wait_for_built()
        else:
            self._build()

    def _wait_for_built(self) -> None:
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while time.monotonic() < deadline:
            if (self.out_dir / REPORT_INDEX).is_file() and (
                self.out_dir / REPORT_SUMMARY
            ).is_file():
                self.state = ReportState.READY
                return
            time.sleep(POLL_S)
        self._fail(f"no report appeared in {self.out_dir} within {BUILD_TIMEOUT_S:g}s")

    def _build(self) -> None:
        cmd = [sys.executable, "-m", "surge", "report", str(self.run_dir)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._fail(f"surge report did not complete: {exc}")
            return
        if not (self.out_dir / REPORT_INDEX).is_file():
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            self._fail(f"surge report exited {done.returncode}: {last[0]}")
            return
        self.state = ReportState.READY

    def _fail(self, message: str) -> None:
        logger.error("no report for the web UI: %s", message)
        self.error = message
        self.state = ReportState.FAILED

    def verdict(self) -> dict[str, Any] | None:
        """The report's verdict (status, headline, detail), once it is built."""
        if self.state is not ReportState.READY:
            return None
        if self._verdict is None:
            try:
                self._verdict = dict(read_summary(self.out_dir)["verdict"])
            except (SurgeError, KeyError, TypeError, ValueError):
                return None
        return self._verdict

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "verdict": self.verdict(), "error": self.error}
