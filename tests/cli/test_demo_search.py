"""`surge demo --search`: the demo's knee found with no staircase, compared with one.

Runs the real demo twice (staircase, then search) against the reference shop it starts:
about four minutes on this machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surge.cli.demo import DEMO_SEARCH, run_demo
from surge.errors import ExitCode
from surge.schedule import load_schedule


def test_the_search_demo_gives_no_staircase() -> None:
    schedule = load_schedule(DEMO_SEARCH)
    assert schedule.search is not None and schedule.search.resolution == 0.25
    # the search's first plan: one step and an open recovery, nothing else given
    assert len(schedule.stages) == 2


@pytest.mark.integration
def test_the_search_demo_says_how_close_and_how_much_shorter(tmp_path: Path, capsys) -> None:
    staircase_code = run_demo(out_dir=tmp_path)
    assert staircase_code in (ExitCode.THRESHOLDS_FAILED, ExitCode.UNTRUSTWORTHY)
    code = run_demo(search=True, out_dir=tmp_path)
    output = "".join(capsys.readouterr())  # the summary goes to stderr
    (run_dir,) = tmp_path.glob("demo-search-*")
    s = json.loads((run_dir / "report" / "summary.json").read_text())
    search = s["search"]
    print(search["bracket_text"], "|", search["baseline"]["text"])
    if search["end"] == "generators":
        pytest.skip(f"the machine was overloaded: {search['end_reason']}")
    assert code == ExitCode.PASSED, s["verdict"]
    assert search["end"] == "converged"
    versus = search["baseline"]
    assert versus["run_id"].startswith("demo-staircase-")
    # the staircase's knee lies on its 50 req/s grid; the search's within 25 % of it
    assert abs(versus["knee_difference"]) <= 0.25 + 1e-9, versus
    assert versus["shorter_by"] is not None
    assert "found its knee at" in versus["text"] and "the search took" in versus["text"]
    assert versus["text"] in (run_dir / "report" / "index.html").read_text()
    assert "search   between" in output or "search   above" in output
