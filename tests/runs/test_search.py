"""Capacity search (`load.search`) end to end: `surge run` against the reference shop.

The shop's hot partition takes `CAPACITY` writes per second and every arrival is a
purchase, so the capacity its configuration implies is `CAPACITY` req/s: with uniform
arrivals every rate up to it passes and every rate `resolution` above it throttles
more than 1 % of purchases. Holds are 4 s, so each search takes about a minute. The
last test runs a search through the agent path (S3, a master agent, two worker agents).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from surge.cli import main
from surge.results import read_requests
from tests.helpers.agents import REPO_ROOT, live_schedule_yaml
from tests.helpers.fleet import Fleet, fetch
from tests.helpers.locust import RERUN_IF_OVERLOADED, machine_load
from tests.helpers.shop import ShopHandle, running_shop

# one worker under xdist: the capacity runs never share the CPU with each other (conftest.py)
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("capacity")]

CAPACITY = 100  # writes/s of the one hot partition = buys/s the shop can take
RESOLUTION = 0.05
RUN_TIMEOUT_S = 240


def search_yaml(
    target: str, *, block: str, mix: str = "{buy: 1}", limits: str = "{timeout: 5s}"
) -> str:
    return f"""\
name: search
target: {target}
allow_hosts: [127.0.0.1]
arrivals: uniform
scenario:
  locustfile: {REPO_ROOT}/locustfiles/shop_user.py
  mix: {mix}
load:
  search: {block}
limits: {limits}
thresholds: [p95 < 3s, success_rate >= 99%]
"""


def run_search(
    tmp_path: Path, shop: ShopHandle, yaml_text: str, *, workers: int = 1, seed: str = "1"
) -> tuple[int, str, dict[str, Any]]:
    """`surge run` the schedule; exit code, output and summary.json (empty if none)."""
    schedule = tmp_path / f"search-{seed}-{workers}.yaml"
    schedule.write_text(yaml_text)
    out = tmp_path / f"results-{seed}-{workers}"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SURGE_SHOP_SEED": shop.seed,
           "SURGE_SHOP_CREDENTIALS": str(shop.credentials), "CI": "true"}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "surge", "run", str(schedule), "--workers", str(workers),
         "--out", str(out)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    summaries = list(out.glob("*/report/summary.json"))
    summary = json.loads(summaries[0].read_text()) if summaries else {}
    return proc.returncode, output, summary


def require_generators_kept_up(search: dict[str, Any]) -> None:
    """A search that stopped because the generators fell behind at a rate one core offers
    easily says the shared machine was overloaded (other tests), not where the knee is."""
    if search["end"] == "generators":
        pytest.fail(
            f"the machine was overloaded: {search['end_reason']} ({machine_load()})",
            pytrace=False,
        )


def knee_search_block(**over: Any) -> str:
    values = {"from": 10, "max": 1000, "hold": "4s", "resolution": f"{RESOLUTION:.0%}",
              "max_duration": "3m"} | over  # fmt: skip
    return "{" + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}"


@pytest.fixture
def hot_shop():
    with running_shop(products=1, write_capacity=CAPACITY) as shop:
        yield shop


@RERUN_IF_OVERLOADED
# seed 1 in `make test`; seeds 2 and 3 repeat it with other shops (`make test-long`)
@pytest.mark.parametrize(
    "seed",
    ["1", pytest.param("2", marks=pytest.mark.long), pytest.param("3", marks=pytest.mark.long)],
)
def test_the_search_finds_the_hot_partitions_capacity(tmp_path: Path, seed: str) -> None:
    """Each seed is another shop: its users' passwords, token key and random choices."""
    with running_shop(
        products=1, write_capacity=CAPACITY, seed=f"seed-{seed}", random_seed=seed
    ) as shop:
        code, output, summary = run_search(
            tmp_path, shop, search_yaml(shop.url, block=knee_search_block()), seed=seed
        )
    assert summary, output
    search = summary["search"]
    knee, (lo, hi) = search["knee_rps"], search["bracket"]
    stair = search["staircase"]
    print(
        f"seed {seed}: knee {knee} req/s ({search['bracket_text']}), capacity {CAPACITY}; "
        f"search spent {search['requests']:,} requests in {search['duration_s']:.0f} s, a "
        f"staircase of the same resolution {stair['requests']:,} in {stair['duration_s']:.0f} s; "
        f"path {[(s['rate'], s['verdict']) for s in search['steps']]}"
    )
    require_generators_kept_up(search)
    assert code == 0, output
    assert search["end"] == "converged", search["end_reason"]
    assert abs(knee - CAPACITY) <= RESOLUTION * CAPACITY, search
    assert hi is not None and hi - lo <= RESOLUTION * hi + 1e-9
    assert search["requests"] < stair["requests"], (search["requests"], stair["requests"])
    # every step is an ordinary hold stage of the report, judged like a staircase's
    holds = [s for s in summary["stages"] if s["kind"] == "hold"]
    assert len(holds) == len(search["steps"])
    assert [s["offered_rps"] for s in holds] == [s["rate"] for s in search["steps"]]
    assert "throttl" in search["broke_first"]  # what broke first at the failing rate
    report = (Path(summary_dir(tmp_path, seed)) / "index.html").read_text()
    assert "Capacity search" in report and search["bracket_text"] in report


def summary_dir(tmp_path: Path, seed: str, workers: int = 1) -> Path:
    (report,) = (tmp_path / f"results-{seed}-{workers}").glob("*/report")
    return report


@RERUN_IF_OVERLOADED
def test_two_workers_find_the_same_knee(tmp_path: Path, hot_shop) -> None:
    code, output, summary = run_search(
        tmp_path, hot_shop, search_yaml(hot_shop.url, block=knee_search_block()), workers=2
    )
    assert summary, output
    search = summary["search"]
    print(f"two workers: knee {search['knee_rps']} ({search['bracket_text']})")
    require_generators_kept_up(search)
    assert code == 0, output
    assert summary["workers"] == 2
    assert abs(search["knee_rps"] - CAPACITY) <= RESOLUTION * CAPACITY, search


def test_no_knee_below_max_is_reported_above_the_test(tmp_path: Path) -> None:
    with running_shop(products=1) as shop:  # no write limit: nothing breaks at these rates
        code, output, summary = run_search(
            tmp_path, shop, search_yaml(shop.url, block="{from: 20, max: 80, hold: 4s}")
        )
    assert code == 0, output
    search = summary["search"]
    assert search["end"] == "above max"
    assert [s["rate"] for s in search["steps"]] == [20, 40, 80]
    assert search["bracket"] == [80, None]
    assert search["bracket_text"].startswith("above 80 req/s")
    assert "above the test" in output or "higher" in output


def test_generators_too_weak_stop_the_search_with_the_reason(tmp_path: Path) -> None:
    """Two slots per worker and a 50 ms service time: at most ~40 req/s can be offered."""
    with running_shop(products=1, service_time="50ms") as shop:
        code, output, summary = run_search(
            tmp_path, shop,
            search_yaml(shop.url, block="{from: 10, max: 400, hold: 4s}", mix="{browse: 1}",
                        limits="{timeout: 5s, max_in_flight: 2}"),
        )  # fmt: skip
    assert summary, output
    search = summary["search"]
    print(f"weak generators: {search['end_reason']}; path {search['steps']}")
    assert search["end"] == "generators"
    assert "max_in_flight 2" in search["end_reason"]
    assert search["knee_rps"] is not None and search["knee_rps"] >= 20
    assert "above what these generators can offer" in search["bracket_text"]
    assert code == 3, output  # untrustworthy above that rate: a result, with the reason
    assert "generators" in summary["verdict"]["detail"]
    assert len(search["steps"]) <= 4  # stopped early, long before max or max_duration


def test_require_above_the_knee_fails_the_verdict(tmp_path: Path, hot_shop) -> None:
    block = knee_search_block(**{"from": 50, "max": 200, "resolution": "20%", "require": 150})
    code, output, summary = run_search(tmp_path, hot_shop, search_yaml(hot_shop.url, block=block))
    assert summary, output
    assert code == 1, output
    assert summary["search"]["require_met"] is False
    failed = [c for c in summary["verdict"]["thresholds"] if not c["passed"]]
    assert [c["rule"] for c in failed] == ["knee >= 150/s (search.require)"]


@RERUN_IF_OVERLOADED
def test_a_fleet_of_agents_is_steered_through_its_plans(fleet: Fleet, tmp_path: Path) -> None:
    """The agent path (schedule from S3, a master agent and two worker agents, results
    uploaded): the master decides every step and both workers follow it."""
    with running_shop(products=1) as shop:
        text = live_schedule_yaml(name="fleet", target=shop.url, stages="[]").replace(
            "load: {stages: []}", "load: {search: {from: 20, max: 40, hold: 4s}}"
        ) + "thresholds: [p95 < 3s]\n"  # fmt: skip
        path = tmp_path / "search.yaml"
        path.write_text(text)
        url = f"s3://{fleet.bucket}/schedules/{fleet.run_id}.yaml"
        assert main(["schedule", "push", str(path), url]) == 0
        fleet.start("master", "master", expect_workers=2)
        fleet.start("w1", "worker")
        fleet.start("w2", "worker")
        codes = fleet.wait(timeout=120)
    assert codes["master"] in (0, 3), fleet.output("master")  # 3: this busy machine lagged
    dest = fetch(fleet)
    summary = json.loads((dest / "report" / "summary.json").read_text())
    search = summary["search"]
    require_generators_kept_up(search)
    assert search["end"] == "above max", search["end_reason"]
    assert [s["rate"] for s in search["steps"]] == [20, 40]
    # both workers sent during both steps: the second step reached them by plan
    frame = read_requests(dest, columns=["worker", "stage"]).to_pandas()
    steps = {s["stage"] for s in search["steps"]}
    per_worker = frame[frame["stage"].isin(steps)].groupby("worker", observed=True)["stage"]
    assert per_worker.nunique().to_dict() == {w: 2 for w in per_worker.groups}
    assert len(per_worker.groups) == 2
