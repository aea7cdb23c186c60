"""`load.search`: the block's validation and the pure bracket logic (`surge.search`).

The decisions are driven here by a model target with a known knee (every rate up to
it passes, every rate above fails), so the properties are exact: the search ends
with the knee inside a bracket no wider than `resolution`, the confirmed rate really
passes, and the steps spent stay logarithmic in the range.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge.errors import ScheduleError
from surge.schedule import StageKind, parse_schedule
from surge.search import (
    MAX_STEPS,
    KneeSearch,
    SearchEnd,
    SearchSpec,
    StepVerdict,
    stages_for,
    within,
)

BASE = """\
name: s
target: http://127.0.0.1:8080
load:
  search: {block}
thresholds: [p95 < 3s, success_rate >= 99%]
"""


def run_model(spec: SearchSpec, knee: float, *, flaky: set[float] = frozenset()) -> KneeSearch:
    """Drive a search against a target whose capacity is `knee` (rates in `flaky` pass
    once, by luck, and fail when held again)."""
    search = KneeSearch(spec)
    seen: set[float] = set()
    elapsed = 0.0
    while (rate := search.next_rate(elapsed)) is not None:
        lucky = rate in flaky and rate not in seen
        seen.add(rate)
        search.record(StepVerdict.PASS if rate <= knee or lucky else StepVerdict.FAIL)
        elapsed += spec.hold_s + spec.recovery
    return search


# ---------------------------------------------------------------- the decisions


@settings(max_examples=300, deadline=None)
@given(
    start=st.floats(1, 1000),
    factor=st.floats(1.5, 1000),
    knee_at=st.floats(0, 1),
    resolution=st.floats(0.01, 0.5),
)
def test_the_bracket_holds_the_knee_within_resolution(start, factor, knee_at, resolution):
    top = start * factor
    knee = start + (top - start) * knee_at
    spec = SearchSpec(start, top, hold_s=10, resolution=resolution, max_duration_s=1e9)
    search = run_model(spec, knee)
    if knee >= top:
        assert search.end is SearchEnd.ABOVE_MAX and search.knee == top
        return
    assert search.end is SearchEnd.CONVERGED, search.end_reason
    lo, hi = search.bracket()
    assert lo <= knee < hi
    assert within(lo, hi, resolution)
    # the confirmed candidate was held twice, and both times it passed
    assert [s.verdict for s in search.steps if s.rate == lo] == [StepVerdict.PASS] * 2
    # geometric raise + bisection: logarithmic in the range and in 1/resolution
    bound = math.log2(factor) + math.log2(1 / resolution) + 4
    assert len(search.steps) <= bound


@settings(max_examples=200, deadline=None)
@given(knee=st.floats(60, 900), lucky=st.floats(60, 900))
def test_a_lucky_pass_is_not_the_knee(knee, lucky):
    """A rate above capacity that passes once by luck fails its confirmation; the search
    goes back to the highest rate that really holds."""
    spec = SearchSpec(50, 1000, hold_s=10, resolution=0.05, max_duration_s=1e9)
    search = run_model(spec, knee, flaky={lucky})
    assert search.end is SearchEnd.CONVERGED
    lo, hi = search.bracket()
    assert lo <= knee < hi


def test_from_failing_means_the_knee_is_below_the_test():
    search = run_model(SearchSpec(100, 1000), knee=50)
    assert search.end is SearchEnd.BELOW_FROM
    assert search.knee is None and [s.rate for s in search.steps] == [100]


def test_max_passing_means_the_knee_is_above_the_test():
    search = run_model(SearchSpec(50, 300), knee=10_000)
    assert search.end is SearchEnd.ABOVE_MAX
    assert [s.rate for s in search.steps] == [50, 100, 200, 300]
    assert "above the test" in search.end_reason


def test_generators_end_the_search_with_the_highest_pass_kept():
    search = KneeSearch(SearchSpec(50, 1000))
    assert search.next_rate() == 50
    search.record(StepVerdict.PASS)
    assert search.next_rate() == 100
    search.record(StepVerdict.GENERATORS, "3.0% of arrivals dropped")
    assert search.next_rate() is None
    assert search.end is SearchEnd.GENERATORS and search.knee == 50
    assert "could not offer 100/s" in search.end_reason and "dropped" in search.end_reason


def test_max_duration_stops_before_a_step_that_would_not_fit():
    spec = SearchSpec(50, 1000, hold_s=30, max_duration_s=125, recovery_s=10)
    search = run_model(spec, knee=10_000)
    assert search.end is SearchEnd.TIME
    # at 0, 40, 80 s; one at 120 s would end (with the recovery it is judged in) past 125 s
    assert len(search.steps) == 3
    assert "before the 400/s step" in search.end_reason


def test_a_pending_step_is_returned_until_judged_and_record_needs_a_step():
    search = KneeSearch(SearchSpec(50, 1000))
    with pytest.raises(ValueError):
        search.record(StepVerdict.PASS)
    assert search.next_rate() == search.next_rate() == 50
    assert len(search.steps) == 1


def test_the_loop_is_bounded_whatever_the_verdicts():
    search = KneeSearch(SearchSpec(1, 1e7, resolution=0.01, max_duration_s=1e12))
    flip = False
    while search.next_rate() is not None:
        flip = not flip
        search.record(StepVerdict.PASS if flip else StepVerdict.FAIL)
    assert len(search.steps) <= MAX_STEPS


# ---------------------------------------------------------------- stages


def test_stages_are_holds_with_recoveries_and_an_open_tail():
    spec = SearchSpec(50, 1000, hold_s=10, recovery_s=3, max_duration_s=100)
    stages = stages_for([(50, 0.0), (100, 13.0)], spec, finished=False)
    assert [(s.kind, s.start_s, s.duration_s, s.rate_to) for s in stages] == [
        (StageKind.HOLD, 0.0, 10, 50),
        (StageKind.RECOVERY, 10.0, 3.0, 50),
        (StageKind.HOLD, 13.0, 10, 100),
        (StageKind.RECOVERY, 23.0, 77.0, 50),  # runs to max_duration until cut
    ]
    done = stages_for([(50, 0.0), (100, 13.0)], spec, finished=True, end_s=25.5)
    assert done[-1].kind is StageKind.RECOVERY and done[-1].end_s == 25.5
    assert [s.index for s in done] == [0, 1, 2, 3]


def test_a_search_schedule_starts_with_the_first_step_and_lasts_max_duration():
    schedule = parse_schedule(BASE.format(block="{from: 50, max: 500, hold: 10s}"))
    assert schedule.search == SearchSpec(50, 500, hold_s=10)
    assert [s.kind for s in schedule.stages] == [StageKind.HOLD, StageKind.RECOVERY]
    assert schedule.duration_s == 20 * 60
    assert schedule.to_dict()["search"]["from"] == 50


# ---------------------------------------------------------------- validation

HOSTILE = [
    ("{from: 50, max: 40}", "load.search.max: got 40; expected a rate above from (50)"),
    ("{from: 50, max: 500, resolution: 0%}", "load.search.resolution: got '0%'"),
    ("{from: 50, max: 500, resolution: 60%}", "load.search.resolution: got '60%'"),
    ("{from: 50, max: 500, resolution: 5}", "load.search.resolution: got 5"),
    ("{from: 50, max: 500, hold: 1s}", "load.search.hold: got '1s'; expected at least 4s"),
    ("{from: 50, max: 500, hold: 30}", "load.search.hold: got 30; 30 has no unit"),
    ("{from: x, max: 500}", "load.search.from: got 'x'; expected a number"),
    ("{from: -5, max: 500}", "load.search.from: got -5"),
    ("{max: 500}", "load.search.from: required key is missing"),
    ("{from: 50, max: 500, frm: 2}", "load.search.frm: unknown key; did you mean 'from'?"),
    ("{from: 50, max: 500, require: 600}", "load.search.require: got 600; expected at most"),
    ("{from: 50, max: 500, hold: 10s, max_duration: 5s}", "load.search.max_duration: got '5s'"),
    ("{from: 50, max: 500, recovery: 1s}", "load.search.recovery: got '1s'"),
    ("[1, 2]", "load.search: got [1, 2]; expected a mapping"),
    ("{}", "load.search: got {}; expected a mapping like"),
    ("null", "load.search: got None; expected a mapping like"),
    ("{from: .nan, max: 500}", "load.search.from: got nan; expected a number"),
    ("{from: 50, max: .inf}", "load.search.max: got inf"),
]


@pytest.mark.parametrize(("block", "message"), HOSTILE)
def test_hostile_search_blocks_name_the_key_and_value(block, message):
    with pytest.raises(ScheduleError) as info:
        parse_schedule(BASE.format(block=block))
    assert len(info.value.problems) == 1, info.value.problems
    assert info.value.problems[0].startswith(message), info.value.problems[0]


def test_stages_and_search_together_and_live_aborts_are_refused():
    text = textwrap.dedent("""\
        name: s
        target: http://127.0.0.1:8080
        load:
          stages: [{rps: 5, duration: 5s}]
          search: {from: 5, max: 10}
        thresholds: [{rule: p95 < 3s, abort_on_fail: true}]
        """)
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text)
    problems = "\n".join(info.value.problems)
    assert "expected either stages or search, not both" in problems
    assert "thresholds[0].abort_on_fail: got True" in problems


def test_a_search_needs_a_service_level():
    with pytest.raises(ScheduleError, match=r"load\.search needs thresholds"):
        parse_schedule(BASE.format(block="{from: 5, max: 10}").replace(
            "thresholds: [p95 < 3s, success_rate >= 99%]\n", ""))  # fmt: skip


@pytest.mark.parametrize("block", [b for b, _ in HOSTILE[:6]])
def test_the_cli_exits_2_with_one_line(tmp_path: Path, block: str):
    path = tmp_path / "s.yaml"
    path.write_text(BASE.format(block=block))
    proc = subprocess.run(
        [sys.executable, "-m", "surge", "schedule", "validate", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: load.search."), lines
    assert "Traceback" not in proc.stderr
