"""The surge view takes run states and trust limits from the master's status (`final`,
`limits`), never from copies in its JavaScript: change them on the server and the page
follows. Real Chromium against the real view blueprint."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from surge.trust import limits, threshold_states
from tests.helpers.browser import open_page
from tests.helpers.webui import canned_view, serving_view

SCHEDULE = "name: s\ntarget: http://127.0.0.1:9\nload: {stages: [{rps: 5, duration: 60s}]}\n"


@contextmanager
def serving(status: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    with serving_view(canned_view(SCHEDULE, tmp_path, status)) as url:
        yield url


def test_final_state_and_cpu_limit_come_from_the_server(tmp_path: Path) -> None:
    status: dict[str, Any] = {
        "state": "running", "final": False, "limits": {**limits(), "saturated_cpu_percent": 50.0},
        "run_id": "s-1", "started_at": "2026-11-27T10:00:00Z", "elapsed_s": 12.0,
        "remaining_s": 48.0, "stage_index": 0, "stage_count": 1, "thresholds": [],
        "workers": [{"id": "w1", "cpu_percent": 60.0, "in_flight": 1, "saturated": False}],
    }  # fmt: skip
    with serving(status, tmp_path) as url, open_page(url) as (page, _errors):
        meter = page.locator("#workers .meter i").first
        page.wait_for_function("document.querySelector('#workers .meter i') !== null")
        assert "hot" in (meter.get_attribute("class") or "")  # 60 % is over the server's 50 %
        status["limits"] = limits()  # the real limit (90 %): 60 % is not hot any more
        page.wait_for_function(
            "!document.querySelector('#workers .meter i').classList.contains('hot')"
        )
        # final or not is the server's word, whatever the state's name
        status.update(state="finished", final=False, stage_index=None, elapsed_s=60.0)
        page.wait_for_function(
            "document.getElementById('where').textContent.startsWith('finished, ')"
        )
        status.update(final=True)
        page.wait_for_function(
            "document.getElementById('where').textContent.startsWith('finished after')"
        )


def test_a_threshold_without_data_is_not_shown_as_passing(tmp_path: Path) -> None:
    """A rule scoped to an endpoint with no request yet is "no data yet", not a green pill;
    the label and tone come from status.threshold_states (surge.trust)."""
    status: dict[str, Any] = {
        "state": "running", "final": False, "limits": limits(),
        "threshold_states": threshold_states(), "run_id": "s-1",
        "started_at": "2026-11-27T10:00:00Z", "elapsed_s": 12.0, "remaining_s": 48.0,
        "stage_index": 0, "stage_count": 1, "workers": [],
        "thresholds": [{"rule": "p95{name=GET /x} < 1s", "abort_on_fail": False,
                        "state": "no_data"}],
    }  # fmt: skip
    with serving(status, tmp_path) as url, open_page(url) as (page, _errors):
        page.wait_for_function(
            "document.querySelector('#thresholds .pill')?.textContent === 'no data yet'"
        )
        pill = page.locator("#thresholds .pill").first
        assert "ok" not in (pill.get_attribute("class") or "").split()
        status["thresholds"][0]["state"] = "passing"
        page.wait_for_function(
            "document.querySelector('#thresholds .pill')?.classList.contains('ok')"
        )
