"""A local run with the web UI (``run_local(..., ui=True)``) in a child process, for UI tests.

`run_local` blocks until the master exits, and with a UI the master lives until it is
told to quit; the child lets a test end it like an engineer would (Ctrl-C: SIGINT,
which `run_local` turns into a clean stop of master and workers).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surge.provisioning.local import free_port

from tests.helpers.signals import like_a_terminal

REPO = Path(__file__).resolve().parents[2]
UI_START_TIMEOUT_S = 45.0  # master and workers import Locust, pandas...: slow on a busy box
STOP_TIMEOUT_S = 30.0
POLL_S = 0.25

_CHILD = """
import sys
from surge.provisioning.local import run_local
run_local(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), ui=True, run_id=sys.argv[4],
          web_port=int(sys.argv[5]))
"""


@dataclass
class UIRun:
    url: str  # the Locust web UI, e.g. http://127.0.0.1:PORT
    run_dir: Path
    process: subprocess.Popen

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as reply:
            return json.loads(reply.read())


@contextlib.contextmanager
def ui_run(
    schedule: Path, run_dir: Path, *, workers: int = 1, run_id: str = "ui-test"
) -> Iterator[UIRun]:
    """A master with its web UI and `workers` workers; yields once the UI answers."""
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        _CHILD,
        str(schedule),
        str(run_dir),
        str(workers),
        run_id,
        str(port),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = open(run_dir.parent / f"{run_id}-launcher.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=like_a_terminal
    )
    run = UIRun(f"http://127.0.0.1:{port}", run_dir, proc)
    try:
        deadline = time.monotonic() + UI_START_TIMEOUT_S
        while True:
            try:
                run.get_json("/surge/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the web UI did not come up; see {log.name} and {run_dir}/logs"
                    ) from None
                time.sleep(POLL_S)
        yield run
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
