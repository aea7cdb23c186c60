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
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surge.provisioning.local import free_port
from tests.helpers.children import stop_child, wait_until_answers
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
        _wait_for_view(run.url, proc, lambda: f"see {log.name} and {run_dir}/logs")
        yield run
    finally:
        stop_child(proc, signal.SIGINT, STOP_TIMEOUT_S)  # Ctrl-C: a clean stop of the run
        log.close()


def _wait_for_view(url: str, proc: subprocess.Popen, detail: Callable[[], str]) -> None:
    wait_until_answers(url + "/surge/api/status", proc, what="the web UI",
                       timeout_s=UI_START_TIMEOUT_S, poll_s=POLL_S, detail=detail)  # fmt: skip


@dataclass
class SurgeRunUI:
    """`surge run --ui` as a user starts it: its own process, stdin to press Enter on."""

    url: str
    out_dir: Path
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def run_dir(self) -> Path:
        (found,) = [p for p in self.out_dir.iterdir() if p.is_dir()]
        return found


@contextlib.contextmanager
def surge_run_ui(
    schedule: Path, out_dir: Path, *, port: int, args: tuple[str, ...] = (), workers: int = 1
) -> Iterator[SurgeRunUI]:
    """`surge run SCHEDULE --ui --web-port PORT ARGS...`; yields once the surge view answers."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir.parent / f"surge-run-ui-{port}.log"
    cmd = [sys.executable, "-m", "surge", "run", str(schedule), "--ui", "--web-port", str(port),
           "--workers", str(workers), "--out", str(out_dir), *args]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "CI": "true"},
            stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=like_a_terminal,
        )  # fmt: skip
    run = SurgeRunUI(f"http://127.0.0.1:{port}", out_dir, proc, log)
    try:
        _wait_for_view(run.url, proc, lambda: "\n" + run.output())
        yield run
    finally:
        stop_child(proc, signal.SIGINT, STOP_TIMEOUT_S)


@contextlib.contextmanager
def serving_view(view: Any) -> Iterator[str]:
    """The surge view's blueprint on a bare Flask app (no Locust process), for page tests
    that choose what ``api/status`` says; yields the page's URL."""
    import threading

    from flask import Flask
    from werkzeug.serving import make_server

    from surge.locustfiles.webui.plugin import URL_PREFIX, _blueprint

    app = Flask(__name__)
    app.register_blueprint(_blueprint(view, environment=None), url_prefix=URL_PREFIX)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{URL_PREFIX}/"
    finally:
        server.shutdown()


def canned_view(schedule_yaml: str, run_dir: Path, status: dict[str, Any]) -> Any:
    """A surge view of `schedule_yaml` whose live status is `status` (change it to move on)."""
    from surge.locustfiles.webui.live import SurgeView
    from surge.locustfiles.webui.report import ReportBuilder
    from surge.schedule import parse_schedule

    return SurgeView(
        schedule=parse_schedule(schedule_yaml),
        run_dir=run_dir,
        report=ReportBuilder(run_dir),
        runner_state=lambda: "running",
        worker_count=lambda: 1,
        status_source=lambda: status,
    )
