"""The surge page in Chromium against a canned status: what a knee search shows.

The view's blueprint is served by a plain Flask app (no Locust process): the page polls
``api/status`` as it would on a master, and the test chooses what that says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.browser import open_page
from tests.helpers.webui import canned_view, serving_view

SCHEDULE = """
name: knee
target: http://127.0.0.1:9
load:
  search: {from: 100, max: 800, hold: 10s, resolution: 5%}
thresholds:
  - p95 < 1s
"""
SEARCH = {
    "phase": "bisect", "step": 4, "rate": 250.0, "bracket": [200.0, 300.0], "knee": 200.0,
    "resolution": 0.05, "end": None, "end_reason": None,
    "steps": [{"rate": 100.0, "verdict": "pass"}, {"rate": 200.0, "verdict": "pass"},
              {"rate": 400.0, "verdict": "fail"}, {"rate": 250.0, "verdict": None}],
}  # fmt: skip


def test_a_knee_search_shows_its_bracket_and_steps(tmp_path: Path) -> None:
    status: dict[str, Any] = {
        "state": "running", "run_id": "knee-1", "started_at": "2026-11-27T10:00:00Z",
        "elapsed_s": 35.0, "remaining_s": 60.0, "stage_index": 3, "stage_count": 4,
        "workers": [], "thresholds": [], "search": SEARCH,
    }  # fmt: skip
    with (
        serving_view(canned_view(SCHEDULE, tmp_path, status)) as url,
        open_page(url) as (page, errors),
    ):
        page.wait_for_selector("#search:not([hidden])")
        assert page.locator("#search-bracket").inner_text() == (
            "knee between 200 req/s and 300 req/s (resolution 5 %)"
        )
        assert page.locator("#search-phase").inner_text() == "bisect · step 4 at 250 req/s"
        pills = page.locator("#search-steps .pill")
        assert pills.all_inner_texts() == [
            "100 req/s: pass", "200 req/s: pass", "400 req/s: fail", "250 req/s: running",
        ]  # fmt: skip
        assert "bad" in (pills.nth(2).get_attribute("class") or "")
        status["search"] = {**SEARCH, "bracket": [400.0, None], "phase": "raise"}
        page.wait_for_function(
            "document.getElementById('search-bracket').textContent.startsWith('knee above')"
        )
        assert page.locator("#search-bracket").inner_text() == "knee above 400 req/s so far"
        # Locust serves the favicon (../assets/), not this bare app: its 404 (and the
        # console's note of it) is the only error allowed
        assert [e for e in errors if "favicon" not in e and "404 (NOT FOUND)" not in e] == []
