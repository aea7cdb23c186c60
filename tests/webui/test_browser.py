"""The surge view in a real headless Chromium, driving a real local run against the shop.

One run, watched like an engineer would: open the page, press Start, see the numbers
move, press Stop, get the verdict and open the report the master serves. Screenshots
go to test-artifacts/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.browser import open_page
from tests.helpers.shop import running_shop
from tests.helpers.webui import ui_run

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SCENARIO = REPO / "tests" / "helpers" / "browse_locustfile.py"
WORKERS_TIMEOUT_MS = 40_000
RUNNING_TIMEOUT_MS = 20_000
REPORT_TIMEOUT_MS = 120_000  # the master builds the report in a child process; slow on a busy box
VERDICTS = ("PASSED", "FAILED", "UNTRUSTWORTHY", "INTERRUPTED")  # stopped: interrupted


def write_schedule(path: Path, target: str) -> Path:
    path.write_text(
        f"name: ui-e2e\ntarget: {target}\nallow_hosts: [127.0.0.1]\n"
        f"scenario:\n  locustfile: {SCENARIO}\n"
        "load:\n  stages:\n    - {rps: 15, duration: 6s}\n    - {ramp_to: 40, duration: 10s}\n"
        "thresholds:\n  - p95 < 5s\n  - {rule: error_rate < 50%, abort_on_fail: true, for: 5s}\n"
    )
    return path


def requests_shown(page) -> int:
    text = page.locator("#m-requests").inner_text()
    digits = re.sub(r"[^0-9]", "", text)
    return int(digits) if digits else 0


@pytest.mark.integration
def test_surge_view_starts_the_schedule_shows_live_numbers_and_the_verdict(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with running_shop() as shop:
        schedule = write_schedule(tmp_path / "schedule.yaml", shop.url)
        run_dir = tmp_path / "ui-e2e"
        with (
            ui_run(schedule, run_dir, run_id="ui-e2e") as run,
            open_page(run.url + "/surge/") as (
                page,
                errors,
            ),
        ):
            note = page.locator("#note")
            assert "schedule controls the load" in note.inner_text()
            assert "user count and spawn rate" in note.inner_text()
            assert page.locator("#timeline .offered").count() == 1
            assert page.locator("#thresholds tr").count() == 2
            page.wait_for_function(
                "!document.getElementById('start').disabled", timeout=WORKERS_TIMEOUT_MS
            )
            page.click("#start")
            page.wait_for_function(
                "document.getElementById('run-state').textContent === 'running'",
                timeout=RUNNING_TIMEOUT_MS,
            )
            page.wait_for_function(
                "/[1-9]/.test(document.getElementById('m-requests').textContent)",
                timeout=RUNNING_TIMEOUT_MS,
            )
            first, where = requests_shown(page), page.locator("#where").inner_text()
            shown = "document.getElementById('m-requests').textContent.replace(/[^0-9]/g, '')"
            page.wait_for_function(f"Number({shown}) > {first}", timeout=RUNNING_TIMEOUT_MS)
            assert requests_shown(page) > first
            assert page.locator("#where").inner_text() != where
            assert re.search(r"stage [12] of 2", page.locator("#where").inner_text())
            assert page.locator("#timeline line.here").count() == 1
            assert page.locator("#workers tr").count() == 1
            assert page.locator("#m-achieved").inner_text() not in ("", "\N{EN DASH}")
            assert page.locator("#m-p95").inner_text().endswith(("ms", " s"))
            page.wait_for_function(  # the ramp, so the screenshot shows a run in progress
                "document.getElementById('where').textContent.startsWith('stage 2')",
                timeout=RUNNING_TIMEOUT_MS,
            )
            page.screenshot(path=str(ARTIFACTS / "surge-view-live.png"), full_page=True)

            page.click("#stop")
            page.wait_for_selector("#report-link:not([hidden])", timeout=REPORT_TIMEOUT_MS)
            assert page.locator("#run-state").inner_text() == "stopped"
            verdict = page.locator("#verdict-title").inner_text()
            assert verdict in VERDICTS
            page.screenshot(path=str(ARTIFACTS / "surge-view-verdict.png"), full_page=True)
            with page.context.expect_page() as opened:
                page.click("#report-link")
            report = opened.value
            report.wait_for_load_state("load")
            assert report.url.startswith(run.url + "/surge/report/")
            assert report.locator("#verdict h2").inner_text().upper().startswith(verdict)
            report.close()

            page.goto(run.url + "/?tab=surge", wait_until="load")
            page.wait_for_selector("#surge-banner")
            assert "schedule controls the load" in page.locator("#surge-banner").inner_text()
            page.get_by_role("tab", name="Surge").wait_for()
            page.get_by_text("Offered / achieved").wait_for()
            page.screenshot(path=str(ARTIFACTS / "locust-ui-surge-tab.png"))
            assert errors == []
