"""`surge demo --search`: the demo's knee found with no staircase, compared with one.

Runs the search demo beside the staircase demo run (shared with test_demo.py, see
conftest.py) against the reference shop it starts: about two minutes more.
"""

from __future__ import annotations

import json

import pytest

from surge.cli.demo import DEMO_SEARCH, run_demo
from surge.errors import ExitCode
from surge.schedule import load_schedule

# with test_demo.py in one xdist worker: one staircase demo (conftest.py) for both
pytestmark = pytest.mark.xdist_group("capacity")


def test_the_search_demo_gives_no_staircase() -> None:
    schedule = load_schedule(DEMO_SEARCH)
    assert schedule.search is not None and schedule.search.resolution == 0.25
    # the search's first plan: one step and an open recovery, nothing else given
    assert len(schedule.stages) == 2


@pytest.mark.integration
def test_the_search_demo_says_how_close_and_how_much_shorter(staircase_demo, capsys) -> None:
    # the staircase run (shared with test_demo.py) is the search's baseline: same folder
    assert staircase_demo.code in (ExitCode.THRESHOLDS_FAILED, ExitCode.UNTRUSTWORTHY)
    out_dir = staircase_demo.out_dir
    capsys.readouterr()  # only this run's output below
    code = run_demo(search=True, out_dir=out_dir)
    output = "".join(capsys.readouterr())  # the summary goes to stderr
    (run_dir,) = out_dir.glob("demo-search-*")
    s = json.loads((run_dir / "report" / "summary.json").read_text())
    search = s["search"]
    print(search["bracket_text"], "|", search["baseline"]["text"])
    if search["end"] == "generators":
        pytest.skip(f"the machine was overloaded: {search['end_reason']}")
    assert code == ExitCode.PASSED, s["verdict"]
    assert search["end"] == "converged"
    versus = search["baseline"]
    assert versus["run_id"].startswith("demo-staircase-")
    # the staircase's knee lies on its 50 req/s grid (the true knee is up to one step
    # above it) and the search's within its 25 % resolution: they agree within both
    step, resolution = 50.0, 0.25
    gap = abs(search["knee_rps"] - versus["knee_rps"])
    assert gap <= step + resolution * search["knee_rps"] + 1e-9, versus
    assert versus["shorter_by"] is not None
    assert "found its knee at" in versus["text"] and "the search took" in versus["text"]
    assert versus["text"] in (run_dir / "report" / "index.html").read_text()
    assert "search   between" in output or "search   above" in output
