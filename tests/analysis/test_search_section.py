"""The report's capacity-search arithmetic (`analysis.search`): bracket words, cost, baseline.

The section as a whole (path, bracket, verdict, exit codes) is checked on real runs in
tests/runs/test_search.py; these are the pure pieces with exact expected values.
"""

from __future__ import annotations

import pytest

from surge.analysis.search import bracket_text, staircase_cost, versus_baseline

SPEC = {"from": 10.0, "max": 1000.0, "hold_s": 4.0, "resolution": 0.05}


def test_a_staircase_of_the_same_resolution_climbs_in_steps_of_resolution_times_knee():
    cost = staircase_cost(SPEC, knee=100.0, hi=105.0)
    # 10, 15, ..., 105: 20 holds of 4 s
    assert cost["step_rps"] == pytest.approx(5.0)
    assert cost["holds"] == 20
    assert cost["requests"] == round(sum(10 + 5 * k for k in range(20)) * 4)
    assert cost["duration_s"] == 80


@pytest.mark.parametrize(
    ("lo", "hi", "end", "text"),
    [
        (190.0, 200.0, "converged", "between 190 and 200 req/s"),
        (80.0, None, "above max", "above 80 req/s: every rate up to max passed"),
        (None, 10.0, "below from", "below 10 req/s"),
        (20.0, None, "generators", "at least 20 req/s: above what these generators can offer"),
    ],
)
def test_the_knee_in_words(lo, hi, end, text):
    assert bracket_text(lo, hi, end, SPEC).startswith(text)


def test_against_a_staircase_run_says_how_close_and_how_much_shorter():
    search = {"knee_rps": 175.0, "duration_s": 78.0}
    versus = versus_baseline(search, "demo-staircase-1", 150.0, 120.0)
    assert versus["knee_difference"] == pytest.approx(1 / 6)
    assert versus["shorter_by"] == pytest.approx(0.35)
    assert versus["text"] == (
        "the staircase run demo-staircase-1 found its knee at 150 req/s, this search at "
        "175 req/s (+17%); the search took 78 s against 120 s (35% shorter)."
    )
