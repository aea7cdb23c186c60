"""Arrival math: counts per stage, exact interleaving across workers, re-splits."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge.locustfiles.arrivals import ArrivalStream, CumulativeRate, Split
from surge.schedule import Arrivals, parse_schedule


def _schedule(stages: str):
    return parse_schedule(f"name: t\ntarget: http://127.0.0.1:1\nload:\n  stages:\n{stages}")


def _all(stream: ArrivalStream) -> list[tuple[float, int]]:
    out = []
    while (nxt := stream.peek()) is not None:
        out.append(nxt)
        stream.take()
    return out


STAGES = (
    "    - {rps: 100, duration: 2s}\n    - {ramp_to: 300, duration: 2s}\n"
    "    - {rps: 0, duration: 1s}\n    - {rps: 50, duration: 2s}\n"
)


def test_inverse_undoes_cumulative():
    cum = CumulativeRate(_schedule(STAGES).stages)
    for count in (0.0, 1.5, 199.0, 350.0, 599.9, 600.0, 649.0):
        offset, _ = cum.inverse(count)
        assert cum.at(offset) == pytest.approx(count, abs=1e-6)
    assert cum.inverse(cum.total) is None


def test_uniform_counts_per_stage_are_exact():
    schedule = _schedule(STAGES)
    arrivals = _all(
        ArrivalStream(CumulativeRate(schedule.stages), Arrivals.UNIFORM, Split(0, 0, 1))
    )
    per_stage = [sum(1 for _, s in arrivals if s == i) for i in range(4)]
    assert per_stage == [200, 400, 0, 100]
    offsets = [o for o, _ in arrivals]
    assert offsets == sorted(offsets)
    assert offsets[0] == 0.0
    # the ramp's first arrivals are 10 ms apart, its last ones ~3.3 ms
    ramp = [o for o, s in arrivals if s == 1]
    assert ramp[1] - ramp[0] == pytest.approx(0.01, rel=0.05)
    assert ramp[-1] - ramp[-2] == pytest.approx(1 / 300, rel=0.05)
    # the stage after the pause starts on time
    assert min(o for o, s in arrivals if s == 3) == pytest.approx(5.0)


@given(workers=st.integers(1, 7))
@settings(max_examples=8, deadline=None)
def test_workers_interleave_to_the_fleet_schedule(workers):
    cum = CumulativeRate(_schedule(STAGES).stages)
    fleet = _all(ArrivalStream(cum, Arrivals.UNIFORM, Split(0, 0, 1)))
    shares = [
        _all(ArrivalStream(cum, Arrivals.UNIFORM, Split(0, i, workers))) for i in range(workers)
    ]
    merged = sorted(a for share in shares for a in share)
    assert merged == fleet


@given(switch=st.integers(1, 700), before=st.integers(1, 4), after=st.integers(1, 4))
@settings(max_examples=12, deadline=None)
def test_resplit_neither_skips_nor_doubles(switch, before, after):
    """Workers move from `before` to `after` shares at an agreed count: the union is the fleet."""
    cum = CumulativeRate(_schedule(STAGES).stages)
    fleet = _all(ArrivalStream(cum, Arrivals.UNIFORM, Split(0, 0, 1)))
    got: list[tuple[float, int]] = []
    for i in range(max(before, after)):
        stream = ArrivalStream(cum, Arrivals.UNIFORM, Split(0, i, before))
        if i >= before:  # joins at the switch
            stream = ArrivalStream(cum, Arrivals.UNIFORM, Split(switch, i, after))
        elif i < after:
            stream.resplit(Split(switch, i, after))
        mine = _all(stream)
        if i >= after:  # leaves at the switch: keeps only what was due before it
            # uniform arrivals sit at whole counts; round off the float round trip
            mine = [a for a in mine if round(cum.at(a[0])) < switch]
        got += mine
    assert sorted(got) == fleet


def test_poisson_rate_and_split():
    cum = CumulativeRate(_schedule("    - {rps: 1000, duration: 10s}\n").stages)
    shares = [
        _all(ArrivalStream(cum, Arrivals.POISSON, Split(0, i, 2), random.Random(i)))
        for i in range(2)
    ]
    total = sum(len(s) for s in shares)
    assert total == pytest.approx(10_000, rel=0.04)  # 4 sigma is ~4 %
    gaps = [b[0] - a[0] for a, b in zip(shares[0], shares[0][1:], strict=False)]
    mean = sum(gaps) / len(gaps)
    assert mean == pytest.approx(1 / 500, rel=0.05)
    cv = (sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5 / mean
    assert cv == pytest.approx(1.0, abs=0.1)  # exponential gaps, not uniform ones
