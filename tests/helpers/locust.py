"""Helpers for engine tests: a loopback target process, schedules, fleets, run directories."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pytest

from surge.errors import SurgeError
from surge.provisioning.local import (
    REPO_ROOT,
    LocalRunResult,
    Role,
    _scenario_path,
    free_port,
    locust_command,
)
from surge.results import AbortedBy, RunState, read_health, read_manifest, read_requests
from surge.schedule import load_schedule
from tests.helpers.children import stop_child, wait_until_answers

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "locustfiles"
START_TIMEOUT_S = 10.0


@contextlib.contextmanager
def http_target(
    stall_s: float = 0.0, period_s: float = 5.0, cpu: int | None = None
) -> Iterator[str]:
    """A target server in its own process (optionally pinned to one CPU); yields its URL."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "tests.helpers.target_server",
        str(port),
        str(stall_s),
        str(period_s),
    ]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    proc = subprocess.Popen(cmd, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(url + "/count", proc, what="the test target",
                           timeout_s=START_TIMEOUT_S, poll_s=0.05)  # fmt: skip
        yield url
    finally:
        stop_child(proc, timeout_s=5)


def target_count(url: str) -> int:
    return int(urllib.request.urlopen(url + "/count", timeout=2).read())


def write_schedule(
    path: Path,
    *,
    target: str,
    stages: str,
    extra: str = "",
    locustfile: str | None = None,
    user: str | None = None,
) -> Path:
    """A schedule YAML; `stages` is the YAML list under load.stages, one item per line."""
    scenario = ""
    if locustfile:
        scenario = f"scenario:\n  locustfile: {locustfile}\n"
        if user:
            scenario += f"  user: {user}\n"
    lines = "\n".join(f"    - {s}" for s in stages.strip().splitlines())
    path.write_text(
        f"name: engine-test\ntarget: {target}\n{scenario}load:\n  stages:\n{lines}\n{extra}"
    )
    return path


def requests_of(run_dir: Path, columns: list[str] | None = None):
    return read_requests(run_dir, columns).to_pandas()


def outcome_count(run_dir: Path, outcome: str) -> int:
    table = read_requests(run_dir, ["outcome"])
    return int(pc.sum(pc.equal(table["outcome"].cast("string"), outcome)).as_py() or 0)


def start_epoch(run_dir: Path) -> float:
    """The run's first intended instant, from its manifest."""
    started = read_manifest(run_dir).started_at
    if started is None:
        raise ValueError("the run has not started")
    return started.timestamp()


def wait_for_start(run_dir: Path, timeout_s: float = 30.0) -> float:
    """Block until the master has written a manifest with a start time; return it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, SurgeError):
            return start_epoch(run_dir)
        time.sleep(0.05)
    raise AssertionError(f"the run in {run_dir} did not start within {timeout_s:g}s")


def live_workers(run_dir: Path) -> list[dict]:
    """The workers ``status.json`` lists right now (empty while it is missing or partial)."""
    try:
        return json.loads((run_dir / "status.json").read_text())["workers"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


# Reasons in the manifest that mean the generator itself fell behind (not lost workers or
# dropped requests a test provokes on purpose): timing assertions are meaningless then.
SATURATION_MARKERS = ("send lag", "% CPU")


#: A timing test that finds the machine overloaded (see `require_generator_kept_up`) runs
#: once more: on a shared 2-core machine a neighbour's burst should not fail CI, while a
#: generator that is quiet and still misses its tolerances fails at once.
RERUN_IF_OVERLOADED = pytest.mark.flaky(reruns=1, only_rerun=["machine was overloaded"])


def require_generator_kept_up(run_dir: Path) -> None:
    """Fail, saying why, when the generators' own health says they could not keep up.

    On an overloaded machine (the shared 2-core one, while others run tests) a timing test
    would fail for the wrong reason or pass by luck; either way it would prove nothing, so
    it fails with the generators' health figures and the load average instead.
    """
    reasons = [
        r for r in read_manifest(run_dir).untrustworthy
        if any(m in r for m in SATURATION_MARKERS)
    ]  # fmt: skip
    if not reasons:
        return
    health = read_health(run_dir)
    figures = ""
    if health is not None:
        h = health.to_pandas()
        figures = (
            f"; worst one-second samples: CPU {h.cpu_percent.max():.0f}%, "
            f"waiting for a CPU {h.cpu_wait_percent.max():.0f}%, "
            f"send-lag p99 {h.send_lag_p99_us.max() / 1000:.0f} ms, "
            f"bare event-loop lag p99 {h.loop_lag_p99_us.max() / 1000:.0f} ms"
        )
    pytest.fail(
        "the machine was overloaded: the generator reported it could not keep up, so this "
        f"timing test proves nothing ({'; '.join(reasons)}{figures}; {machine_load()}). "
        "Re-run it on a quiet machine.",
        pytrace=False,
    )


@dataclass
class Fleet:
    """A master and workers started directly (not through `run_local`), for tests that
    kill or signal one of them and watch what the others do."""

    master: subprocess.Popen
    workers: list[subprocess.Popen]
    run_dir: Path

    def stop(self) -> None:
        for proc in [self.master, *self.workers]:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def running_fleet(schedule: Path, run_dir: Path, *, workers: int = 1) -> Iterator[Fleet]:
    """A headless master and `workers` workers on loopback; everything is killed afterwards."""
    port = free_port()
    scenario = _scenario_path(schedule, load_schedule(schedule).scenario.locustfile)
    common = {"scenario_locustfile": scenario, "run_dir": run_dir, "run_id": run_dir.name}
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    def spawn(cmd: list[str], name: str) -> subprocess.Popen:
        with open(logs / f"{name}.log", "ab") as out:
            return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    cwd=REPO_ROOT, start_new_session=True)  # fmt: skip

    master_cmd = locust_command(Role.MASTER, schedule_path=schedule, master_port=port,
                                expect_workers=workers, **common)  # fmt: skip
    fleet = Fleet(spawn(master_cmd, "master"), [], run_dir)
    try:
        for i in range(workers):
            cmd = locust_command(Role.WORKER, master_port=port, **common)
            fleet.workers.append(spawn(cmd, f"worker-{i}"))
        yield fleet
    finally:
        fleet.stop()


def assert_threshold_abort(result: LocalRunResult, rule: str, *, within_s: float) -> None:
    """`result` is a run an ``abort_on_fail`` threshold ended early: aborted
    by that rule, within `within_s` of its start, exit 1, or 3 when it was also
    untrustworthy (e.g. a lagging generator on a busy machine: that outranks thresholds)."""
    manifest = result.manifest
    assert manifest is not None and manifest.state is RunState.ABORTED
    assert manifest.abort is not None and manifest.abort.by is AbortedBy.THRESHOLD
    assert rule in manifest.abort.reason
    started, ended = manifest.started_at, manifest.ended_at
    assert started is not None and ended is not None
    assert (ended - started).total_seconds() < within_s  # not the schedule's whole length
    assert result.exit_code == (3 if manifest.untrustworthy else 1)


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> float:
    """Signal `proc`; return when (epoch seconds)."""
    os.kill(proc.pid, sig)
    return time.time()


def wait_exit(proc: subprocess.Popen, timeout_s: float) -> int | None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        return proc.wait(timeout_s)
    return None


def machine_load() -> str:
    """Load average and CPU pressure, for failure messages of timing-sensitive tests."""
    note = "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    with contextlib.suppress(OSError, IndexError, ValueError):
        some = Path("/proc/pressure/cpu").read_text().split()[1]  # avg10=NN.NN
        note += f", CPU pressure {float(some.split('=')[1]):.0f}% (10 s)"
    return note


def wait_for(condition, timeout_s: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` and the machine's load."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:g}s ({machine_load()})")
        time.sleep(0.05)


def sleep_until(epoch: float) -> None:
    time.sleep(max(epoch - time.time(), 0.0))
