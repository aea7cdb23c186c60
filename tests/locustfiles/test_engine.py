"""The engine end to end on loopback: rates, boundaries, re-split, recording, locustfiles.

Each test runs a real Locust master and worker processes through `run_local` against a
small target process. Tolerances are the issue's. When the generators' own health says
they could not keep up (an overloaded shared machine), timing tests fail saying so
(`require_generator_kept_up`) instead of passing or failing by luck.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from surge.provisioning.local import run_local
from surge.results import list_parts, read_manifest
from tests.helpers.locust import (
    FIXTURES,
    RERUN_IF_OVERLOADED,
    http_target,
    live_workers,
    outcome_count,
    requests_of,
    require_generator_kept_up,
    start_epoch,
    target_count,
    wait_for_start,
    write_schedule,
)

pytestmark = pytest.mark.integration

BOUNDARY_TOLERANCE_US = 100_000  # stage changes on time within 100 ms
RATE_TOLERANCE = 0.02


@RERUN_IF_OVERLOADED
def test_three_stages_on_two_workers_hit_rate_and_boundaries(tmp_path):
    stages = [(100, 4.0), (250, 4.0), (150, 4.0)]
    with http_target() as url:
        schedule = write_schedule(
            tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "single.py"),
            stages="\n".join(f"{{rps: {r}, duration: {d:g}s}}" for r, d in stages),
            extra="arrivals: uniform\n",
        )  # fmt: skip
        result = run_local(
            schedule, tmp_path / "run", workers=2, run_id="rate",
            extra_args=["--json-file", str(tmp_path / "locust")],  # Locust appends .json
        )  # fmt: skip
    run = tmp_path / "run"
    assert result.exit_code in (0, 3), result
    require_generator_kept_up(run)
    assert result.exit_code == 0, result.manifest and result.manifest.untrustworthy
    df = requests_of(run)
    assert df["worker"].nunique() == 2
    start = start_epoch(run)
    t0 = 0.0
    for index, (rate, duration) in enumerate(stages):
        lo, hi = (start + t0) * 1e6, (start + t0 + duration) * 1e6
        sent = df[(df.sent_us >= lo) & (df.sent_us < hi)]
        assert len(sent) / duration == pytest.approx(rate, rel=RATE_TOLERANCE), f"stage {index}"
        first = df[df.stage == index].sent_us.min()
        assert 0 <= first - lo < BOUNDARY_TOLERANCE_US, (
            f"stage {index} began {(first - lo) / 1000:.0f} ms late"
        )
        t0 += duration
    # every record is a request Locust counted, or a dropped one
    locust = json.loads((tmp_path / "locust.json").read_text())
    locust_total = sum(entry["num_requests"] for entry in locust)
    assert len(df) == locust_total + outcome_count(run, "dropped")
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished"
    assert status["requests"] == len(df)
    assert (run / "health" / "part-00000.parquet").exists()


@RERUN_IF_OVERLOADED
def test_killed_worker_share_is_taken_over_and_its_parts_survive(tmp_path):
    """kill -9 one of three workers mid-stage: within 2 s the total holds; its parts stay."""
    rate, duration, kill_at, takeover_s = 150, 18.0, 9.0, 2.0
    run = tmp_path / "run"
    killed: dict = {}

    def killer() -> None:
        start = wait_for_start(run, timeout_s=60)
        deadline = start + duration
        while time.time() < deadline:
            workers = live_workers(run)
            if len(workers) == 3 and time.time() >= start + kill_at:
                victim = workers[0]["id"]
                os.kill(int(victim.rsplit("-", 1)[1]), signal.SIGKILL)
                killed["id"], killed["at"] = victim, time.time()
                return
            time.sleep(0.05)

    with http_target() as url:
        schedule = write_schedule(
            tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "single.py"),
            stages=f"{{rps: {rate}, duration: {duration:g}s}}", extra="arrivals: uniform\n",
        )  # fmt: skip
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        result = run_local(schedule, run, workers=3, run_id="kill")
        thread.join(5)
    assert killed, "the worker was never killed (did all three join?)"
    require_generator_kept_up(run)
    df = requests_of(run)
    start = start_epoch(run)
    lo, hi = (killed["at"] + takeover_s) * 1e6, (start + duration) * 1e6
    after = df[(df.sent_us >= lo) & (df.sent_us < hi)]
    assert len(after) / ((hi - lo) / 1e6) == pytest.approx(rate, rel=RATE_TOLERANCE)
    assert after.worker.nunique() == 2
    # the victim's parts cover all but (at most) the last 10 s before the kill
    victim_rows = df[df.worker == killed["id"]]
    assert len(victim_rows) > 0 and len(list_parts(run)) >= 3
    assert victim_rows.intended_us.max() / 1e6 >= killed["at"] - 10.0
    manifest = read_manifest(run)
    assert [w["id"] for w in manifest.lost_workers] == [killed["id"]]
    assert result.exit_code == 3  # a lost worker makes the run untrustworthy, with the reason
    assert any("lost" in r for r in manifest.untrustworthy)


def test_ordinary_locustfile_runs_one_task_per_arrival(tmp_path):
    with http_target() as url:
        schedule = write_schedule(
            tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "plain_fast.py"),
            stages="{rps: 40, duration: 3s}", extra="arrivals: uniform\n",
        )  # fmt: skip
        result = run_local(schedule, tmp_path / "run", workers=0, run_id="plain")
    assert result.exit_code in (0, 3)
    df = requests_of(tmp_path / "run")
    tasks = df[~df.name.isin(["on_start", "on_stop"])]
    # wait_time (1-2 s) is ignored: 120 arrivals in 3 s, each one task
    assert len(tasks) == 120
    assert set(tasks.name) == {"/", "/item/[id]"}
    assert (tasks.name == "/").mean() == pytest.approx(0.75, abs=0.12)  # @task(3) vs @task(1)
    assert (df.outcome == "ok").all()
    assert (df.name == "on_stop").sum() == (df.name == "on_start").sum() > 0


def test_mix_weights_tasks_by_name_and_requests_user_works(tmp_path):
    with http_target() as url:
        schedule = write_schedule(
            tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "plain_requests.py"),
            stages="{rps: 30, duration: 2s}", extra="arrivals: poisson\n",
        )  # fmt: skip
        result = run_local(schedule, tmp_path / "run", workers=0, run_id="req")
    assert result.exit_code in (0, 3)
    df = requests_of(tmp_path / "run")
    assert 30 <= len(df) <= 90  # Poisson around 60
    assert (df.status == 200).all()


def test_requests_user_gets_the_schedule_timeout(tmp_path):
    """HttpUser has no class-level timeout: the engine's client passes it on every call."""
    with http_target() as url:
        schedule = write_schedule(
            tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "misbehaving.py"),
            user="SlowRequestsUser", stages="{rps: 5, duration: 2s}",
            extra="arrivals: uniform\nlimits: {timeout: 500ms}\n",
        )  # fmt: skip
        run_local(schedule, tmp_path / "run", workers=0, run_id="timeout")
    df = requests_of(tmp_path / "run")
    assert len(df) == 10
    assert (df.outcome == "timeout").all(), df.error.tolist()
    assert (df.service_us < 2_000_000).all()  # the 3 s answers were not waited for


def test_requests_outside_allow_hosts_are_never_sent(tmp_path):
    """Any user class, any absolute URL: a host outside allow_hosts gets no connection."""
    with http_target() as url:
        schedule = write_schedule(
            tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "misbehaving.py"),
            user="ElsewhereUser", stages="{rps: 10, duration: 2s}",
            extra="arrivals: uniform\nallow_hosts: [127.0.0.1]\n",
        )  # fmt: skip
        run_local(schedule, tmp_path / "run", workers=0, run_id="allow")
        assert target_count(url) == 0
    log = (tmp_path / "run" / "logs" / "master.log").read_text()
    assert "host not in allow_hosts" in log


def test_engine_import_warms_pyarrow_before_the_worker_connects():
    """The warm-up must run when Locust imports the locustfile, not in the init event:
    there it blocks heartbeats after "client_ready", and with many workers starting at
    once the master declared them all missing and stopped the run (fan-in, 32 workers).
    `warm_up` is what loads pandas (pyarrow's lazy import), so pandas shows it ran."""
    import subprocess
    import sys

    code = "import sys, locustfiles.engine; print('pandas' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "True", out.stderr
