"""Service-time distributions and the stall pattern."""

from __future__ import annotations

import random

import pytest

from surge.shop.latency import Distribution, StallPattern, parse_service_time, parse_stall


def test_stall_holds_only_the_last_second_of_each_period_until_its_end():
    stall = parse_stall("1s/5s")
    assert stall == StallPattern(1.0, 5.0)
    assert stall.release_at(1000.0) is None  # phase 0
    assert stall.release_at(1003.99) is None  # phase 3.99
    assert stall.release_at(1004.0) == pytest.approx(1005.0)
    assert stall.release_at(1004.7) == pytest.approx(1005.0)
    assert stall.release_at(1005.0) is None  # next period starts unheld


@pytest.mark.parametrize("text", ["1s", "5s/1s", "1s/1s", "0s/5s", "1/5", "x/5s"])
def test_bad_stall_patterns_are_refused(text):
    with pytest.raises(ValueError):
        parse_stall(text)


def test_service_time_forms_parse():
    assert parse_service_time("20ms").first == pytest.approx(0.02)
    assert parse_service_time("0ms").is_zero
    assert parse_service_time("exp:20ms").kind is Distribution.EXPONENTIAL
    uniform = parse_service_time("uniform:5ms,50ms")
    assert (uniform.first, uniform.second) == pytest.approx((0.005, 0.05))
    lognormal = parse_service_time("lognormal:20ms,0.5")
    assert (lognormal.first, lognormal.second) == pytest.approx((0.02, 0.5))


@pytest.mark.parametrize(
    "text", ["20", "gamma:1s", "uniform:5ms", "uniform:50ms,5ms", "lognormal:0ms,1", "exp:1s,2s"]
)
def test_bad_service_times_are_refused(text):
    with pytest.raises(ValueError):
        parse_service_time(text)


def test_samples_follow_their_distribution():
    rng = random.Random(1)
    exp = [parse_service_time("exp:20ms").sample(rng) for _ in range(5_000)]
    assert sum(exp) / len(exp) == pytest.approx(0.02, rel=0.05)
    uniform = [parse_service_time("uniform:5ms,50ms").sample(rng) for _ in range(2_000)]
    assert min(uniform) >= 0.005 and max(uniform) <= 0.05
    lognormal = sorted(parse_service_time("lognormal:20ms,0.5").sample(rng) for _ in range(5_001))
    assert lognormal[2_500] == pytest.approx(0.02, rel=0.05)  # the median
