"""The surge view during a capacity search (`load.search`): the step and the bracket.

A real master with its web UI, one worker and the reference shop, watched in headless
Chromium: the steps are decided live, so the page must follow the status, not the
schedule it loaded before the run (which holds only the first step).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from surge.locustfiles.search import stages_for
from surge.schedule import parse_schedule
from tests.helpers.browser import open_page
from tests.helpers.shop import running_shop
from tests.helpers.webui import canned_view, ui_run

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
            # the timeline follows the steps run so far (step 1, its pause, step 2, ...)
            assert page.locator("#timeline rect.stage-band").count() >= 3
            done = f"{WHERE}.startsWith('search done') || {WHERE}.includes('after')"
            page.wait_for_function(done, timeout=STEP_TIMEOUT_MS)
            assert errors == []


SEARCH_YAML = (
    "name: s\ntarget: http://127.0.0.1:9\nload:\n  search: {from: 10, max: 40, hold: 4s}\n"
    "thresholds: [p95 < 5s]\n"
)


def test_the_timeline_shows_the_steps_run_so_far(tmp_path: Path) -> None:
    """Loaded before the run, the schedule holds step 1 and a 20-minute pause; the view
    draws status.json's stages instead, the open pause cut at now."""
    spec = parse_schedule(SEARCH_YAML).search
    assert spec is not None
    steps = stages_for([(10, 0.0), (20, 6.0), (40, 12.0)], spec, finished=False)
    status = {"state": "running", "elapsed_s": 13.0, "stages": [s.to_dict() for s in steps],
              "search": {"step": 3, "end": None}}  # fmt: skip
    snap = canned_view(SEARCH_YAML, tmp_path, status).snapshot()
    shown = snap["schedule"]["stages"]
    assert [(s["kind"], s["rate_to"]) for s in shown if s["kind"] == "hold"] == [
        ("hold", 10), ("hold", 20), ("hold", 40)
    ]  # fmt: skip
    assert snap["schedule"]["duration_s"] == 19.0  # step 3 ends at 16, then its 3 s pause
    assert max(t for t, _ in snap["timeline"]) == 19.0
    assert max(r for _, r in snap["timeline"]) == 40
    status["elapsed_s"] = 25.0  # the pause goes on: the timeline grows with it
    assert canned_view(SEARCH_YAML, tmp_path, status).snapshot()["schedule"]["duration_s"] == 25.0
