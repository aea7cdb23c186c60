"""`surge run --ui` as an engineer uses it: Start in Chromium, the run ends by itself,
the view shows the whole run and the report, the process exits with the verdict.

The UI run is ended with Ctrl-C while the UI is still up after the run, which must
not turn the verdict's exit code into 130. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from surge.cli import ui_session
from surge.cli.ui_session import UIHold, UIOptions
from surge.errors import ExitCode
from surge.provisioning.local import free_port
from tests.helpers.browser import open_page
from tests.helpers.shop import running_shop
from tests.helpers.webui import surge_run_ui

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SCENARIO = REPO / "tests" / "helpers" / "browse_locustfile.py"
WORKERS_TIMEOUT_MS = 40_000
RUN_TIMEOUT_MS = 60_000
REPORT_TIMEOUT_MS = 120_000
EXIT_TIMEOUT_S = 30.0


def write_schedule(path: Path, target: str) -> Path:
    path.write_text(
        f"name: ui-run\ntarget: {target}\nallow_hosts: [127.0.0.1]\narrivals: uniform\n"
        f"scenario:\n  locustfile: {SCENARIO}\n"
        "load:\n  stages:\n    - {rps: 15, duration: 5s}\n    - {rps: 30, duration: 5s}\n"
        "thresholds:\n  - p95 < 5s\n"
    )
    return path


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


@pytest.mark.integration
def test_surge_run_ui_ends_with_the_schedule_and_exits_with_the_verdict(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    with running_shop() as shop:
        schedule = write_schedule(tmp_path / "schedule.yaml", shop.url)
        with (
            surge_run_ui(schedule, tmp_path / "results", port=port) as run,
            open_page(run.url + "/surge/") as (page, errors),
        ):
            assert run.url.endswith(f":{port}")  # --web-port chose the address
            page.wait_for_function(
                "!document.getElementById('start').disabled", timeout=WORKERS_TIMEOUT_MS
            )
            page.click("#start")
            page.wait_for_selector("#endpoints tr.endpoint", timeout=RUN_TIMEOUT_MS)
            # while running, every tile says which window it covers
            assert text(page, "#tiles-scope").startswith("Live: rates over the last 2 s")
            assert text(page, "#m-achieved-unit").startswith("answered/s \N{MIDDLE DOT} last 2 s")
            assert "last 5 s" in text(page, "#m-p95u")
            assert text(page, "#endpoints tr.endpoint td:first-child") == "GET /products"
            assert "over the last 5 s" in text(page, "#endpoints-scope")
            assert re.match(
                r"1 generator on 1 host \N{MIDDLE DOT} fleet sending", text(page, "#fleet")
            )

            page.wait_for_function(  # nobody presses Stop: the schedule ends the run
                "document.getElementById('run-state').textContent === 'finished'",
                timeout=RUN_TIMEOUT_MS,
            )
            page.wait_for_selector("#report-link:not([hidden])", timeout=REPORT_TIMEOUT_MS)
            assert text(page, "#verdict-title") == "PASSED"
            # after the end: whole-run figures, labelled so (not the last window's leftovers)
            assert text(page, "#tiles-scope").startswith("Whole run")
            assert text(page, "#m-achieved-unit").startswith("answered/s \N{MIDDLE DOT} whole run")
            assert text(page, "#endpoints-scope") == "whole run"
            sent_rps = float(text(page, "#m-achieved").replace(",", ""))
            assert 18 <= sent_rps <= 27  # 225 requests over 10 s; the window would say ~30
            requests = int(text(page, "#endpoints tr.endpoint td:nth-child(5)").replace(",", ""))
            with urllib.request.urlopen(run.url + "/metrics", timeout=5) as reply:  # same port
                exposition = reply.read().decode()
            assert f'surge_requests_offered_total{{endpoint="GET /products"}} {requests}.0' in (
                exposition
            )
            assert 'surge_run_state{surge_run_state="finished"} 1.0' in exposition
            page.screenshot(path=str(ARTIFACTS / "surge-run-ui-final.png"), full_page=True)

            # the Surge tab in Locust's own UI links the view
            page.goto(run.url + "/?tab=surge", wait_until="load")
            page.get_by_role("tab", name="Surge").wait_for()
            page.locator("td[role=link]").click()
            page.wait_for_url(run.url + "/surge/")
            page.wait_for_selector("#report-link:not([hidden])")
            assert errors == []

            assert run.process.poll() is None  # the UI stays up until the user is done
            assert "press Enter (or Ctrl-C) to quit" in run.output()
            run.process.send_signal(signal.SIGINT)  # Ctrl-C ends the viewing only
            code = run.process.wait(EXIT_TIMEOUT_S)

        summary = json.loads((run.run_dir() / "report" / "summary.json").read_text())
        assert code == summary["verdict"]["exit_code"] == ExitCode.PASSED, run.output()
        assert summary["whole_run"]["requests"] == requests
        assert "interrupted" not in run.output()


def test_enter_ends_the_viewing_and_ui_exit_skips_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_session, "SETTLE_S", 0.0)
    calls: list[str] = []
    stdin = io.StringIO("\n")
    hold = UIHold(
        options=UIOptions(ui=True),
        report=lambda: calls.append("report") or "v",
        before=lambda: calls.append("before"),
        stream=io.StringIO(),
        stdin=stdin,
    )
    hold()
    assert calls == ["before", "report"] and hold.outcome == "v"
    assert stdin.read() == ""  # the Enter was read
    quiet = UIHold(options=UIOptions(ui=True, exit_when_done=True), report=lambda: "v",
                   before=lambda: None, stream=io.StringIO(), stdin=io.StringIO("\n"))  # fmt: skip
    quiet()
    assert quiet.stdin.read() == "\n"  # --ui-exit never waits


def surge_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "surge", "run", *args], capture_output=True, text=True,
        timeout=60, cwd=REPO, env=env or {**os.environ},
    )  # fmt: skip


def test_an_off_loopback_ui_without_a_login_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    schedule = write_schedule(tmp_path / "schedule.yaml", "http://127.0.0.1:9")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_UI_")}
    done = surge_run(str(schedule), "--ui", "--web-host", "0.0.0.0", "--out", str(tmp_path / "r"),
                     env=env)  # fmt: skip
    assert done.returncode == ExitCode.BAD_INPUT
    assert done.stderr.startswith("error: refusing to serve the web UI on 0.0.0.0 without a login")
    assert "SURGE_UI_USER" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_ui_flags_without_ui_are_a_usage_error(tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path / "schedule.yaml", "http://127.0.0.1:9")
    done = surge_run(str(schedule), "--web-port", "9999", "--out", str(tmp_path / "r"))
    assert done.returncode == ExitCode.BAD_INPUT
    assert "--web-port only apply with --ui" in done.stderr
