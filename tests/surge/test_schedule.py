"""The schedule contract: the README example, bundled schedules, and hostile input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge.errors import ScheduleError
from surge.schedule import Arrivals, StageKind, load_schedule, parse_schedule

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "schedules" / "example.yaml"

MINIMAL = """\
name: t
target: http://127.0.0.1:8080
load:
  stages:
    - {rps: 10, duration: 10s}
"""


def problems_of(text: str | bytes) -> list[str]:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text, source="s.yaml")
    return info.value.problems


def test_readme_example_validates() -> None:
    s = load_schedule(EXAMPLE)
    assert s.name == "black-friday-rehearsal"
    assert s.allow_hosts == ("api.shop.example.com",)
    assert s.start_at == dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    assert s.arrivals is Arrivals.POISSON
    assert s.scenario.user == "ShopUser" and dict(s.scenario.mix) == {"browse": 7, "buy": 3}
    # 3 explicit stages + 6 steps (250..500 by 50), each step one minute
    assert len(s.stages) == 9
    assert [st.rate_to for st in s.stages[3:]] == [250, 300, 350, 400, 450, 500]
    assert s.stages[1].kind is StageKind.RAMP and s.stages[1].rate_from == 50
    assert s.duration_s == 30 + 60 + 120 + 6 * 60
    assert s.peak_rate == 500
    # 50*30 + (50+200)/2*60 + 200*120 + 60*(250+...+500)
    assert s.expected_requests() == 1500 + 7500 + 24000 + 60 * 2250
    assert s.limits.max_lateness_s == 1.0 and s.limits.max_in_flight == 2000
    abort = [t for t in s.thresholds if t.abort_on_fail]
    assert len(abort) == 1 and abort[0].metric == "error_rate" and abort[0].for_s == 30


@pytest.mark.parametrize("path", sorted((ROOT / "schedules").glob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_schedule_validates(path: Path) -> None:
    assert load_schedule(path).stages


def test_defaults() -> None:
    s = parse_schedule(MINIMAL)
    assert s.allow_hosts == ("127.0.0.1",)
    assert s.start_at is None and s.end_by is None
    assert s.scenario.locustfile == "locustfiles/shop_user.py"
    assert s.limits.timeout_s == 30
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert s.hard_end(start) == start + dt.timedelta(seconds=10 + 300)


def test_rate_at_ramp_and_per_worker() -> None:
    s = parse_schedule(
        MINIMAL.replace("- {rps: 10, duration: 10s}", "- {ramp_to: 100, duration: 10s}")
        + "  per_worker: true\n"
    )
    assert s.stages[0].rate_from == 0  # a first ramp starts from 0
    assert s.rate_at(5) == pytest.approx(50)
    assert s.rate_at(5, workers=3) == pytest.approx(150)
    assert s.rate_at(-1) == 0 and s.rate_at(10) == 0
    assert s.expected_requests(workers=2) == pytest.approx(1000)


def test_with_target_is_checked_against_allow_hosts() -> None:
    s = parse_schedule(MINIMAL)
    assert s.with_target("http://127.0.0.1:9999/").target == "http://127.0.0.1:9999"
    with pytest.raises(ScheduleError, match="not in allow_hosts"):
        s.with_target("http://10.0.0.1:80")


HOSTILE = {
    "empty": ("", "empty"),
    "only a comment": ("# nothing\n", "empty"),
    "not yaml": ("name: [unclosed\n", "not valid YAML"),
    "list at top": ("- 1\n- 2\n", "expected a mapping"),
    "scalar at top": ("42\n", "expected a mapping"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
    "nul": ("name: a\x00b\n", "binary data"),
    "unknown key": (MINIMAL + "targte: x\n", "did you mean 'target'"),
    "unknown stage key": (MINIMAL.replace("rps: 10,", "rsp: 10,"), "did you mean 'rps'"),
    "missing unit": (MINIMAL.replace("duration: 10s", "duration: 10"), "has no unit"),
    "negative rate": (MINIMAL.replace("rps: 10", "rps: -5"), "expected a number from 0"),
    "absurd rate": (MINIMAL.replace("rps: 10", "rps: 1000000000000"), "expected a number from 0"),
    "rate as text": (MINIMAL.replace("rps: 10", "rps: lots"), "expected a number"),
    "bad name": (MINIMAL.replace("name: t", "name: Black Friday!"), "lowercase"),
    "no zone": (MINIMAL + "start_at: 2026-11-27T10:00:00\n", "has no zone"),
    "end before start": (
        MINIMAL + "start_at: 2026-11-27T10:00:00Z\nend_by: 2026-11-27T09:00:00Z\n",
        "after start_at",
    ),
    "end before schedule ends": (
        MINIMAL + "start_at: 2026-11-27T10:00:00Z\nend_by: 2026-11-27T10:00:05Z\n",
        "ends before the schedule",
    ),
    "target not allowed": (MINIMAL + "allow_hosts: [shop.example.com]\n", "not in allow_hosts"),
    "target not http": (MINIMAL.replace("http://127.0.0.1:8080", "ftp://x"), "http(s) URL"),
    "missing load": ("name: t\ntarget: http://127.0.0.1\n", "load: required key"),
    "empty stages": (MINIMAL.split("  stages:")[0] + "  stages: []\n", "non-empty list"),
    "two kinds": (MINIMAL.replace("rps: 10,", "rps: 10, ramp_to: 5,"), "exactly one of"),
    "steps not whole": (
        MINIMAL.replace("rps: 10", "steps: {from: 1, to: 10, by: 4}"),
        "whole number of steps",
    ),
    "too many steps": (
        MINIMAL.replace("rps: 10", "steps: {from: 0, to: 1000000, by: 1}"),
        "at most",
    ),
    "bad threshold metric": (MINIMAL + "thresholds: [p97 < 3s]\n", "unknown metric"),
    "threshold no unit": (MINIMAL + "thresholds: [p95 < 3]\n", "has no unit"),
    "rate threshold no unit": (MINIMAL + "thresholds: ['success_rate >= 99']\n", "needs a unit"),
    "threshold not a rule": (MINIMAL + "thresholds: [fast please]\n", "expected '<metric>"),
    "bad arrivals": (MINIMAL + "arrivals: bursty\n", "poisson or uniform"),
    "bad in flight": (MINIMAL + "limits: {max_in_flight: 0}\n", "whole number"),
    "huge timeout": (MINIMAL + "limits: {timeout: 2h}\n", "duration from"),
    "per_worker text": (
        MINIMAL.replace("load:\n", "load:\n  per_worker: maybe\n"),
        "true or false",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_gives_clear_errors(case: str) -> None:
    text, expected = HOSTILE[case]
    found = problems_of(text)
    assert any(expected in p for p in found), found


def test_all_problems_reported_at_once() -> None:
    text = MINIMAL.replace("rps: 10", "rps: -1").replace("name: t", "name: T T") + "bogus: 1\n"
    assert len(problems_of(text)) == 3


def billion_laughs(levels: int, fan_out: int) -> list[str]:
    lines = ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * fan_out)}]")
    return lines


@pytest.mark.timeout(10)
def test_alias_bomb_under_the_limit_is_not_expanded() -> None:
    # 9 levels x 9 aliases: 9**9 leaves if anything walked or printed it whole
    bomb = billion_laughs(9, 9)
    text = "\n".join(["name: t", "target: http://127.0.0.1", "aliases:", *("  " + b for b in bomb)])
    text += "\nload: {stages: *x8}\nthresholds: *x8\n"
    found = problems_of(text)
    assert any("aliases: unknown key" in p for p in found)
    assert all(len(p) < 300 for p in found)


@pytest.mark.timeout(10)
def test_too_many_aliases_are_refused() -> None:
    assert any("alias bomb" in p for p in problems_of("\n".join(billion_laughs(12, 10)) + "\n"))


def test_multi_megabyte_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(MINIMAL + "#" * (2 << 20))
    with pytest.raises(ScheduleError, match="must be under"):
        load_schedule(big)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match="not found"):
        load_schedule(tmp_path / "nope.yaml")
    with pytest.raises(ScheduleError, match="directory"):
        load_schedule(tmp_path)


# ---------------------------------------------------------------- properties

stage_strategy = st.one_of(
    st.builds(
        lambda r, d: f"{{rps: {r}, duration: {d}s}}", st.integers(0, 5000), st.integers(1, 600)
    ),
    st.builds(
        lambda r, d: f"{{ramp_to: {r}, duration: {d}s}}", st.integers(0, 5000), st.integers(1, 600)
    ),
    st.builds(
        lambda a, n, by, d: f"{{steps: {{from: {a}, to: {a + n * by}, by: {by}}}, duration: {d}s}}",
        st.integers(0, 1000),
        st.integers(0, 8),
        st.integers(1, 500),
        st.integers(1, 120),
    ),
)


def schedule_text(stages: list[str]) -> str:
    body = "".join(f"    - {s}\n" for s in stages)
    return f"name: p\ntarget: http://127.0.0.1\nload:\n  stages:\n{body}"


@settings(max_examples=60, deadline=None)
@given(st.lists(stage_strategy, min_size=1, max_size=6))
def test_expected_requests_is_the_integral_of_rate(stages: list[str]) -> None:
    s = parse_schedule(schedule_text(stages))
    # trapezoid rule is exact for piecewise-linear rates when sampled at stage edges
    total = 0.0
    for stage in s.stages:
        a = s.rate_at(stage.start_s)
        b = s.rate_at(stage.end_s - 1e-9) if stage.duration_s else a
        total += (a + b) / 2 * stage.duration_s
    assert total == pytest.approx(s.expected_requests(), rel=1e-6, abs=1e-3)
    # stages are contiguous and steps expand to one hold per step
    for prev, nxt in zip(s.stages, s.stages[1:], strict=False):
        assert nxt.start_s == pytest.approx(prev.end_s)
    assert len(s.stages) >= len(stages)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2000), st.integers(1, 40), st.integers(1, 300), st.integers(1, 100))
def test_steps_expand_to_holds(start: int, n: int, by: int, dur: int) -> None:
    s = parse_schedule(
        schedule_text(
            [f"{{steps: {{from: {start}, to: {start + n * by}, by: {by}}}, duration: {dur}s}}"]
        )
    )
    assert [x.rate_to for x in s.stages] == [start + k * by for k in range(n + 1)]
    assert all(x.kind is StageKind.HOLD and x.duration_s == dur for x in s.stages)
    assert s.duration_s == (n + 1) * dur
