"""The surge view during a capacity search (`load.search`): the step and the bracket.

A real master with its web UI, one worker and the reference shop, watched in headless
Chromium: the steps are decided live, so the page must follow the status, not the
schedule it loaded before the run (which holds only the first step).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.browser import open_page
from tests.helpers.shop import running_shop
from tests.helpers.webui import ui_run

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "tests" / "helpers" / "browse_locustfile.py"
WORKERS_TIMEOUT_MS = 40_000
STEP_TIMEOUT_MS = 40_000

WHERE = "document.getElementById('where').textContent"


@pytest.mark.integration
def test_the_view_shows_the_search_step_and_the_bracket(tmp_path: Path) -> None:
    with running_shop() as shop:
        schedule = tmp_path / "schedule.yaml"
        schedule.write_text(
            f"name: ui-search\ntarget: {shop.url}\nallow_hosts: [127.0.0.1]\n"
            f"scenario:\n  locustfile: {SCENARIO}\n"
            "load:\n  search: {from: 10, max: 40, hold: 4s}\n"
            "thresholds:\n  - p95 < 5s\n"
        )
        run_dir = tmp_path / "ui-search"
        with (
            ui_run(schedule, run_dir, run_id="ui-search") as run,
            open_page(run.url + "/surge/") as (page, errors),
        ):
            page.wait_for_function(
                "!document.getElementById('start').disabled", timeout=WORKERS_TIMEOUT_MS
            )
            page.click("#start")
            page.wait_for_function(
                f"{WHERE}.includes('search step 2 at 20')", timeout=STEP_TIMEOUT_MS
            )
            assert "knee at least 10 req/s" in page.locator("#where").inner_text()
            done = f"{WHERE}.startsWith('search done') || {WHERE}.includes('after')"
            page.wait_for_function(done, timeout=STEP_TIMEOUT_MS)
            assert errors == []
