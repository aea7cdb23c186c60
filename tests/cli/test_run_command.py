"""`surge run` end to end against the shop, Ctrl-C, and the progress display."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from surge.cli.progress import Progress, is_plain, render
from surge.results import read_requests
from tests.helpers.agents import REPO_ROOT, live_schedule_yaml
from tests.helpers.shop import running_shop
from tests.helpers.signals import like_a_terminal

STATUS = {
    "state": "running", "stage_index": 2, "stage_count": 8, "offered_rps": 150.0,
    "achieved_rps": 149.5, "p95_ms": 12.3, "errors": 3, "late": 1, "dropped": 0,
    "workers": [{"saturated": False}, {"saturated": True}], "lost_workers": [],
    "remaining_s": 65.0, "duration_s": 120.0,
}  # fmt: skip


def test_progress_line_shows_every_figure() -> None:
    line = render(STATUS)
    for part in ("stage 3/8", "150/150 req/s", "p95 12ms", "errors 3", "late 1 dropped 0",
                 "1/2 ok, 1 saturated", "left 1m5s", "46%"):  # fmt: skip
        assert part in line, (part, line)
    assert "stage -" in render({})  # a partial status never breaks the display


def test_plain_lines_when_not_a_tty_or_ci() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert is_plain(io.StringIO(), {})
    assert not is_plain(Tty(), {})
    assert is_plain(Tty(), {"CI": "true"})
    out = io.StringIO()
    progress = Progress(out, plain=True)
    progress(STATUS)
    progress(STATUS)  # same stage, within the period: no second line
    progress({**STATUS, "stage_index": 3})
    progress.close()
    assert len(out.getvalue().splitlines()) == 2
    assert "\r" not in out.getvalue()


@pytest.mark.integration
def test_ctrl_c_stops_the_load_keeps_the_data_and_exits_130(tmp_path: Path) -> None:
    with running_shop() as shop:
        schedule = tmp_path / "s.yaml"
        schedule.write_text(
            live_schedule_yaml(name="ctrlc", target=shop.url, stages="[{rps: 50, duration: 60s}]")
        )
        out = tmp_path / "results"
        proc = subprocess.Popen(
            [sys.executable, "-m", "surge", "run", str(schedule), "--workers", "1",
             "--out", str(out), "--junit", str(tmp_path / "junit.xml")],
            cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=like_a_terminal,
        )  # fmt: skip
        try:
            _wait_running(out, proc)
            time.sleep(3.0)
            proc.send_signal(signal.SIGINT)
            output, _ = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, output
    assert "interrupted" in output
    assert "verdict" in output and "report" in output
    (run_dir,) = out.iterdir()
    assert read_requests(run_dir).num_rows > 0  # what was recorded is kept
    assert (run_dir / "report" / "index.html").exists()
    assert (tmp_path / "junit.xml").exists()
    assert "stage 1/1" in output  # plain progress lines (stdout is a pipe here)


def _wait_running(out: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for status in out.glob("*/status.json"):
            try:
                if json.loads(status.read_text()).get("state") == "running":
                    return
            except ValueError:
                pass
        if proc.poll() is not None:
            pytest.fail(f"surge run exited early: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.2)
    pytest.fail("the run never started")
