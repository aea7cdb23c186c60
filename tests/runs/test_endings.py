"""Every ending of a fleet run keeps every record and is told truthfully.

A master agent and two worker agents run as separate processes against a loopback
target that counts the responses it wrote (`tests.helpers.target_server`); S3 is the
moto server. After each ending the rows in S3 that were answered (all but `dropped`)
must equal the target's count, and the manifest, the report and the exit codes must
say how the run ended. `make reliability` repeats the first three cases
(``SURGE_RELIABILITY_RUNS``) and appends the figures to ``SURGE_RELIABILITY_LOG``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from pathlib import Path

import pytest

from surge.cli import main
from surge.results import list_parts, read_requests
from tests.helpers.fleet import (
    Fleet,
    answered_rows,
    fetch,
    locust_pid,
    manifest_json,
    run_fleet,
    settled_answered,
)
from tests.helpers.locust import http_target

pytestmark = pytest.mark.integration

RUNS = int(os.environ.get("SURGE_RELIABILITY_RUNS") or 1)
ATTEMPTS = pytest.mark.parametrize("attempt", range(RUNS))
LOAD = "[{rps: 40, duration: 60s}]"  # stopped after a few seconds, whatever ends it
LOAD_S = 3.0  # seconds of load before the ending


def nothing_lost(fleet: Fleet, target: str, case: str) -> Path:
    """Rows in S3 (and on the workers' disks) == what the target answered."""
    count = settled_answered(target)
    dest = fetch(fleet)
    rows = answered_rows(dest)
    local = sum(answered_rows(fleet.run_dir(w)) for w in fleet.agents if w.startswith("w"))
    _log(case, rows, local, count)
    assert rows == count, f"{case}: S3 holds {rows} answered requests, the target answered {count}"
    assert local == count, f"{case}: the workers' disks hold {local}, the target answered {count}"
    return dest


def totals_match(dest: Path) -> dict:
    """The manifest's totals count exactly the records (dropped ones included)."""
    manifest = manifest_json(dest)
    assert manifest["totals"]["requests"] == read_requests(dest, ["outcome"]).num_rows
    assert sum(manifest["parts"].values()) == manifest["totals"]["requests"]
    return manifest


def verdict(dest: Path) -> dict:
    return json.loads((dest / "report" / "summary.json").read_text())["verdict"]


def _log(case: str, rows: int, local: int, count: int) -> None:
    line = f"{case}: rows in S3 {rows}, on workers' disks {local}, target answered {count}"
    print(line)
    if path := os.environ.get("SURGE_RELIABILITY_LOG"):
        with open(path, "a") as out:
            out.write(line + "\n")


@ATTEMPTS
def test_abort_keeps_every_record_and_says_who_aborted(fleet: Fleet, attempt: int) -> None:
    with http_target() as target:
        run_fleet(fleet, target, LOAD)
        time.sleep(LOAD_S)
        url = f"s3://{fleet.bucket}/runs/{fleet.run_id}"
        assert main(["abort", url, "--reason", "rehearsal over"]) == 0
        codes = fleet.wait(timeout=90)
        dest = nothing_lost(fleet, target, f"abort #{attempt}")
    manifest = totals_match(dest)
    assert manifest["state"] == "aborted"
    assert manifest["abort"]["by"] == "kill switch"
    assert "rehearsal over" in manifest["abort"]["reason"]
    assert manifest["abort"]["at"]
    assert codes["master"] == 130, fleet.output("master")  # interrupted: never 0
    assert verdict(dest)["status"] == "interrupted"


@ATTEMPTS
def test_stop_keeps_every_record_and_says_interrupted(fleet: Fleet, attempt: int) -> None:
    """SIGTERM to every agent at once (the fleet's instances shutting down, Ctrl-C): the
    workers get their agent's SIGTERM and the master's quit at about the same time."""
    with http_target() as target:
        run_fleet(fleet, target, LOAD)
        time.sleep(LOAD_S)
        for proc in fleet.agents.values():
            proc.send_signal(signal.SIGTERM)
        codes = fleet.wait(timeout=90)
        dest = nothing_lost(fleet, target, f"stop #{attempt}")
    manifest = totals_match(dest)
    assert manifest["state"] == "stopped"
    assert manifest["abort"]["by"] == "person"
    assert codes == {"master": 130, "w1": 130, "w2": 130}, fleet.output("master")


@ATTEMPTS
def test_hard_end_keeps_every_record_and_is_incomplete(fleet: Fleet, attempt: int) -> None:
    with http_target() as target:
        end_by = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
        extra = f"end_by: {end_by.isoformat().replace('+00:00', 'Z')}\n"
        run_fleet(fleet, target, LOAD, extra=extra)
        codes = fleet.wait(timeout=90)
        dest = nothing_lost(fleet, target, f"hard end #{attempt}")
    manifest = totals_match(dest)
    assert manifest["state"] == "aborted"
    assert manifest["abort"]["by"] == "hard end"
    assert codes == {"master": 4, "w1": 4, "w2": 4}, fleet.output("master")
    assert verdict(dest)["status"] == "incomplete"
    frame = read_requests(dest, ["sent_us"]).to_pandas()
    assert frame["sent_us"].max() / 1e6 < end_by.timestamp()  # nothing sent after it


@pytest.mark.parametrize("first", ["worker", "master"])
def test_sigterm_and_the_masters_quit_together_lose_nothing(fleet: Fleet, first: str) -> None:
    """The issue's lost part: a worker's SIGTERM and the master's quit 18 ms apart."""
    with http_target() as target:
        run_fleet(fleet, target, LOAD)
        time.sleep(LOAD_S)
        worker, master = locust_pid(fleet, "w1"), locust_pid(fleet, "master")
        pids = [worker, master] if first == "worker" else [master, worker]
        os.kill(pids[0], signal.SIGTERM)
        time.sleep(0.018)
        os.kill(pids[1], signal.SIGTERM)
        codes = fleet.wait(timeout=90)
        nothing_lost(fleet, target, f"SIGTERM + quit, {first} first")
    assert codes["master"] != 0, codes


def test_a_lost_master_is_told_by_workers_manifest_and_report(fleet: Fleet) -> None:
    with http_target() as target:
        run_fleet(fleet, target, LOAD)
        time.sleep(2.0)
        killed_at = time.time()
        fleet.agents.pop("master").kill()  # the master instance is gone: agent and Locust
        os.killpg(locust_pid(fleet, "master"), signal.SIGKILL)
        codes = fleet.wait(timeout=60)
    assert codes == {"w1": 4, "w2": 4}  # the infrastructure code
    for worker in ("w1", "w2"):
        account = json.loads(
            next(fleet.run_dir(worker).glob("requests/*/_account.json")).read_text()
        )
        assert account["ending"]["kind"] == "master lost"
        last = max(_last_sent(p) for p in list_parts(fleet.run_dir(worker)))
        assert last - killed_at <= 10.0, f"{worker} sent {last - killed_at:.1f}s after the loss"
    dest = fetch(fleet)
    assert manifest_json(dest)["state"] in ("starting", "running")  # never finished
    assert main(["report", str(dest)]) == 4
    v = verdict(dest)
    assert v["status"] == "incomplete"
    assert "master lost" in v["headline"] and "w" in v["headline"]


def _last_sent(part: Path) -> float:
    import pyarrow.parquet as pq

    return (
        max(v for v in pq.read_table(part, columns=["sent_us"])["sent_us"].to_pylist() if v) / 1e6
    )
