"""`surge demo`: the reference experiment replays both symptoms of the original, and the
report says where and why (throttled purchases), in the run's own words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surge.analysis.render import knee_change
from surge.cli.demo import shop_argv
from surge.errors import ExitCode

# with test_demo_search.py in one xdist worker: one staircase demo (conftest.py) for both
pytestmark = pytest.mark.xdist_group("capacity")
BUY = "POST /products/{id}/buy"
THROTTLED = "ProvisionedThroughputExceededException"


def test_the_demo_shop_retries_throttled_writes_within_a_scaled_gateway_limit() -> None:
    argv = shop_argv(False, Path("c.json"))
    assert argv[argv.index("--write-retries") + 1] == "10"  # the AWS SDK's default
    assert argv[argv.index("--function-timeout") + 1] == "2.9s"  # API Gateway's 29 s / 10
    assert "--shards" in shop_argv(True, Path("c.json"))


def test_the_comparison_says_how_far_the_knee_moved() -> None:
    def said(now: float | None, before: float | None, above: bool = False) -> str:
        s = {"comparison": {"knee_rps": now, "baseline_knee_rps": before}}
        return knee_change({**s, "knee": {"above_test": above}})

    assert said(400, 150, True) == (
        "the knee moved up from 150 to 400 req/s (+250 req/s, +167%); every tested rate "
        "passed, so the real knee is higher"
    )
    assert said(100, 150) == "the knee moved down from 150 to 100 req/s (-50 req/s, -33%)"
    assert said(150, None).startswith("the knee is 150 req/s; the baseline met it at no")


@pytest.fixture(scope="module")
def demo(staircase_demo) -> tuple[int, dict]:
    summary = staircase_demo.run_dir / "report" / "summary.json"
    return staircase_demo.code, json.loads(summary.read_text())


@pytest.mark.integration
def test_the_demo_names_throttled_purchases_as_what_broke_first(demo) -> None:
    code, s = demo
    # the staircase crosses the knee on purpose; a starved machine may make it exit 3
    assert code in (ExitCode.THRESHOLDS_FAILED, ExitCode.UNTRUSTWORTHY), s["verdict"]
    culprit = s["knee"]["broke_first_endpoints"][0]
    assert culprit["endpoint"] == BUY and culprit["throttled"]
    assert culprit["error_type"] == THROTTLED and culprit["status"] == 500
    sentence = s["knee"]["broke_first_sentence"]
    assert sentence.startswith(f"At {s['knee']['broke_first']['offered_rps']:,.0f} req/s, ")
    assert f"of {BUY} requests failed: the target throttled them ({THROTTLED}" in sentence
    assert "stayed within" in sentence  # browsing was fine meanwhile
    (failure,) = [f for f in s["failures"] if f["endpoint"] == BUY]
    assert failure["error_type"] == THROTTLED and failure["throttled"]


@pytest.mark.integration
def test_the_demo_shows_latency_climbing_past_the_knee_then_failures(demo) -> None:
    _, s = demo
    knee_stage = s["knee"]["stage"]
    assert knee_stage is not None
    buy = {r["stage"]: r for r in s["endpoint_stages"] if r["endpoint"] == BUY}
    top = max(buy)
    # stages are numbered from 1 in endpoint rows; the knee's stage is an index
    at_knee, past = buy[knee_stage + 1], buy[top]
    assert past["p95"] > 1.0 > at_knee["p95"]  # seconds past the knee, not before it
    assert past["p95"] <= 3.5  # the function's (scaled) time limit bounds the wait ...
    # ... and then purchases fail; at the knee (which met 99 % success over all requests,
    # half of them buys) at most a few did
    assert past["error"] / past["requests"] > 0.05 > 0.02 >= at_knee["error"] / at_knee["requests"]
    stages = {r["stage"]: r for r in s["stages"]}
    assert stages[top - 1]["p95"] > 10 * stages[knee_stage]["p95"]
