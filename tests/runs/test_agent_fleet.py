"""The agent path end to end: a master agent and two worker agents as separate processes.

Each agent reads its env file and the schedule from a real S3 server on loopback
(moto), waits for start_at, runs Locust against the reference shop and uploads
its results; `surge fetch` then rebuilds the run and its report elsewhere.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from surge.cli import main
from surge.provisioning import agent as agent_mod
from surge.results import RunState, read_manifest, read_requests
from surge.s3 import S3Store, S3Url
from tests.helpers.agents import live_schedule_yaml
from tests.helpers.fleet import Fleet, fetch, locust_pid, run_fleet, wait_for_state
from tests.helpers.s3 import free_port
from tests.helpers.shop import ShopHandle, running_shop

pytestmark = pytest.mark.integration

START_IN_S = agent_mod.LAUNCH_LEAD_S + 4.0  # Locust boots and connects before start_at


@pytest.fixture
def shop() -> Iterator[ShopHandle]:
    with running_shop() as handle:
        yield handle


def push_schedule(fleet: Fleet, target: str, *, start_in_s: float, stages: str) -> dt.datetime:
    start_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=start_in_s)
    text = live_schedule_yaml(name="fleet", target=target, stages=stages, start_at=start_at)
    path = fleet.tmp / "schedule.yaml"
    path.write_text(text)
    assert (
        main(["schedule", "push", str(path), f"s3://{fleet.bucket}/schedules/{fleet.run_id}.yaml"])
        == 0
    )
    return start_at


def sent_times(run_dir: Path) -> dict[str, tuple[int, int, int]]:
    """Per worker: first intended, first sent, last sent (microseconds)."""
    frame = read_requests(run_dir, columns=["worker", "intended_us", "sent_us"]).to_pandas()
    grouped = frame.groupby("worker", observed=True)
    first_intended, sent = grouped["intended_us"].min(), grouped["sent_us"]
    return {
        str(w): (int(first_intended[w]), int(sent.min()[w]), int(sent.max()[w]))
        for w in first_intended.index
    }


def test_fleet_starts_together_uploads_and_fetch_rebuilds_the_report(
    fleet: Fleet, shop: ShopHandle
) -> None:
    start_at = push_schedule(
        fleet, shop.url, start_in_s=START_IN_S, stages="[{rps: 100, duration: 3s}]"
    )
    fleet.start("master", "master", expect_workers=2, instance_type="c6i.large")
    fleet.start("w1", "worker", instance_type="c6i.xlarge")
    fleet.start("w2", "worker", instance_type="c6i.xlarge")
    codes = fleet.wait()
    assert codes["w1"] == 0, fleet.output("w1")
    assert codes["w2"] == 0, fleet.output("w2")
    assert codes["master"] in (0, 3), fleet.output("master")  # 3: this busy machine lagged

    dest = fleet.tmp / "fetched"
    assert main(["fetch", f"s3://{fleet.bucket}/runs/{fleet.run_id}", str(dest)]) == 0
    manifest = read_manifest(dest)
    assert len(manifest.workers) == 2
    assert not manifest.lost_workers
    # Terraform writes each instance's type; the manifest carries it to the report's cost
    assert {w.instance_type for w in manifest.workers} == {"c6i.xlarge"}
    assert manifest.master is not None and manifest.master.instance_type == "c6i.large"
    times = sent_times(dest)
    assert len(times) == 2  # both workers' parts made it through S3
    start_us = int(start_at.timestamp() * 1_000_000)
    for worker, (first_intended, first_sent, _last) in times.items():
        assert 0 <= first_intended - start_us <= 100_000, (worker, first_intended - start_us)
        print(
            f"{worker}: first intended +{(first_intended - start_us) / 1000:.1f} ms, "
            f"first sent +{(first_sent - start_us) / 1000:.1f} ms after start_at"
        )
    rows = read_requests(dest).num_rows
    assert manifest.totals is not None  # every record the master counted arrived:
    assert rows == manifest.totals.requests
    assert rows == pytest.approx(300, rel=0.05)

    # the master's uploaded report is the one a rebuild from the fetched run gives
    uploaded = json.loads(
        S3Store().get_bytes(S3Url(fleet.bucket, f"runs/{fleet.run_id}/report/summary.json"))
    )
    from surge.analysis import build_report

    rebuilt = build_report(dest, out_dir=fleet.tmp / "rebuilt", charts=False)
    again = json.loads((rebuilt.out_dir / "summary.json").read_text())
    assert _without_volatile(again) == _without_volatile(uploaded)
    # every agent runs on this one host here, so it counts once, as a worker instance
    assert again["cost"]["fleet"]["instances"] == {"c6i.xlarge": 1}
    assert again["cost"]["fleet"]["usd"] is not None  # priced (a 3 s run rounds to $0.00)
    assert (dest / "logs" / "agent-w1.log").exists() and (
        dest / "logs" / "agent-master.log"
    ).exists()
    assert "clock offset" in (dest / "logs" / "agent-w2.log").read_text()


def _without_volatile(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in {"generated_at", "report_dir", "files"}}


# ---------------------------------------------------------------- faults


def long_run(fleet: Fleet, shop: ShopHandle, stages: str = "[{rps: 60, duration: 60s}]") -> None:
    """A run starting as soon as both workers are connected (a minute unless told)."""
    text = live_schedule_yaml(name="fleet", target=shop.url, stages=stages)
    path = fleet.tmp / "schedule.yaml"
    path.write_text(text)
    assert (
        main(["schedule", "push", str(path), f"s3://{fleet.bucket}/schedules/{fleet.run_id}.yaml"])
        == 0
    )
    fleet.start("master", "master", expect_workers=2)
    fleet.start("w1", "worker")
    fleet.start("w2", "worker")
    wait_for_state(fleet, "running")


def test_the_kill_switch_stops_all_load_within_5s(fleet: Fleet, shop: ShopHandle) -> None:
    long_run(fleet, shop)
    time.sleep(3.0)
    abort_at = time.time()
    assert main(["abort", f"s3://{fleet.bucket}/runs/{fleet.run_id}"]) == 0
    codes = fleet.wait(timeout=60)
    assert codes["w1"] == 0 and codes["w2"] == 0, codes
    dest = fetch(fleet)
    last_sent = max(last for _first, _sent, last in sent_times(dest).values()) / 1e6
    print(f"last request sent {last_sent - abort_at:+.2f}s after the abort")
    assert last_sent - abort_at <= 5.0, f"load continued {last_sent - abort_at:.1f}s after abort"
    assert "stop requested" in (dest / "logs" / "agent-master.log").read_text()
    # a worker agent stops its Locust when it reads the stop object itself, unless the
    # master (which read it too) has already told that worker to quit: either way in time
    worker_log = (dest / "logs" / "agent-w1.log").read_text()
    assert "stop requested" in worker_log or "load ended: finished" in worker_log, worker_log


def test_a_killed_worker_is_recorded_and_the_run_completes(fleet: Fleet, shop: ShopHandle) -> None:
    long_run(fleet, shop, stages="[{rps: 60, duration: 8s}]")
    time.sleep(2.0)
    os.killpg(locust_pid(fleet, "w2"), signal.SIGKILL)  # the worker process dies
    codes = fleet.wait(timeout=60)
    assert codes["w1"] == 0 and codes["w2"] == 0, codes
    dest = fetch(fleet)
    manifest = read_manifest(dest)
    assert manifest.state is RunState.FINISHED
    assert len(manifest.lost_workers) == 1, manifest.lost_workers
    # which, when, and how many of its records are missing (issue 19)
    (lost,) = manifest.lost_workers
    assert lost["lost_at"] and lost["records_counted"] >= lost["records_in_parts"]
    verdict = json.loads((dest / "report" / "summary.json").read_text())["verdict"]
    assert verdict["status"] != "passed"
    if lost["records_counted"] > read_requests(dest).to_pandas()["worker"].eq(lost["id"]).sum():
        assert verdict["status"] == "incomplete" and lost["id"] in verdict["headline"]


def test_workers_stop_by_themselves_when_the_master_dies(fleet: Fleet, shop: ShopHandle) -> None:
    long_run(fleet, shop)
    time.sleep(2.0)
    killed_at = time.time()
    fleet.agents["master"].kill()  # the master instance is gone: agent and Locust
    os.killpg(locust_pid(fleet, "master"), signal.SIGKILL)
    del fleet.agents["master"]
    codes = fleet.wait(timeout=40)
    assert codes == {"w1": 4, "w2": 4}  # the infrastructure code: the run is incomplete
    for worker in ("w1", "w2"):
        local = fleet.run_dir(worker)
        last = max(last for _f, _s, last in _local_times(local).values()) / 1e6
        assert last - killed_at <= 10.0, f"{worker} sent {last - killed_at:.1f}s after master loss"
        keys = S3Store().list_keys(S3Url(fleet.bucket, f"runs/{fleet.run_id}/requests"))
        assert keys, "the workers uploaded their parts"


def _local_times(run_dir: Path) -> dict[str, tuple[int, int, int]]:
    # a worker's own run directory has parts but no manifest: read them through a copy
    from surge.results import Manifest
    from surge.schedule import parse_schedule

    copy = run_dir.parent / (run_dir.name + "-check")
    import shutil

    shutil.copytree(run_dir / "requests", copy / "requests")
    schedule = parse_schedule((run_dir / "schedule.yaml").read_bytes())
    Manifest.new(run_id="x", schedule=schedule).dump(copy)
    return sent_times(copy)


def test_a_late_instance_refuses_to_start(fleet: Fleet, shop: ShopHandle) -> None:
    push_schedule(fleet, shop.url, start_in_s=-45.0, stages="[{rps: 10, duration: 60s}]")
    fleet.start("w1", "worker")
    assert fleet.wait(timeout=30) == {"w1": 2}
    log = S3Store().get_bytes(S3Url(fleet.bucket, f"runs/{fleet.run_id}/logs/agent-w1.log"))
    assert b"refusing to start a desynchronised load" in log
    assert b"started worker" not in log
    assert not (fleet.run_dir("w1") / "requests").exists()


def test_unreachable_s3_is_a_clear_error_with_exit_4(fleet: Fleet) -> None:
    fleet.env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
    fleet.env["SURGE_S3_MAX_ATTEMPTS"] = "2"
    fleet.start("w1", "worker")
    assert fleet.wait(timeout=30) == {"w1": 4}
    assert "S3 unreachable" in fleet.output("w1")
    assert "Traceback" not in fleet.output("w1")


# ---------------------------------------------------------------- the master's web UI


def test_the_masters_surge_view_shows_the_fleet_and_stop_stops_every_generator(
    fleet: Fleet, shop: ShopHandle
) -> None:
    """No click starts it (autostart at start_at); the view lists both worker instances
    and the fleet's rate; its Stop writes the kill switch and all load ends within 5 s."""
    from tests.helpers.browser import open_page

    web_port = free_port()
    run_fleet(fleet, shop.url, "[{rps: 40, duration: 60s}]", web_port=web_port)  # no Start

    with open_page(f"http://127.0.0.1:{web_port}/surge/") as (page, errors):
        page.wait_for_function(  # one row per worker, each with its host (instance)
            "document.querySelectorAll('#workers tr td:nth-child(2)').length === 2", timeout=20_000
        )
        page.wait_for_function(
            "/2 generators on 1 host · fleet sending [1-9]/.test("
            "document.getElementById('fleet').textContent)",
            timeout=20_000,
        )
        assert page.locator("#run-state").inner_text() == "running"
        assert page.locator("#start").is_disabled()
        assert page.locator("#stop").is_enabled()
        assert errors == []
        artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "surge-view-fleet.png"), full_page=True)
        page.click("#stop")
        stopped_at = time.time()
        codes = fleet.wait(timeout=60)
    assert codes["w1"] == 0 and codes["w2"] == 0, codes
    dest = fetch(fleet)
    last_sent = max(last for _first, _sent, last in sent_times(dest).values()) / 1e6
    print(f"last request sent {last_sent - stopped_at:+.2f}s after Stop")
    assert last_sent - stopped_at <= 5.0, f"load continued {last_sent - stopped_at:.1f}s after Stop"
    stop = json.loads(S3Store().get_bytes(S3Url(fleet.bucket, f"runs/{fleet.run_id}/control/stop")))
    assert stop["reason"] == "stopped from the web UI"  # the kill switch `surge abort` writes
    assert "stop requested" in (dest / "logs" / "agent-master.log").read_text()
