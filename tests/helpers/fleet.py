"""A fleet of instance agents as separate processes, for the runs tests.

`Fleet` starts a master agent and worker agents (``surge agent --env-file``), each in
its own session like a host, sharing one bucket on the moto server; the `fleet`
fixture stops whatever is left. Helpers wait for a live state, find an agent's Locust
process and fetch the run from S3.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from surge.cli import main
from tests.helpers.agents import live_schedule_yaml, start_agent, stop_process, write_agent_env
from tests.helpers.s3 import MotoServer, free_port

AGENT_EXIT_TIMEOUT_S = 90.0


@dataclass
class Fleet:
    """Agents of one run, with what they share."""

    tmp: Path
    bucket: str
    run_id: str
    env: dict[str, str]
    master_port: int
    agents: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def start(
        self, name: str, role: str, *, process_env: dict[str, str] | None = None, **extra: str | int
    ) -> None:
        """Start agent `name`; `extra`: env-file settings, `process_env`: its own variables."""
        values: dict[str, str | int] = {
            "role": role,
            "bucket": self.bucket,
            "schedule_key": f"schedules/{self.run_id}.yaml",
            "run_id": self.run_id,
            "master_host": "127.0.0.1",
            "master_port": self.master_port,
            "master_bind_host": "127.0.0.1",
            "region": "us-east-1",
            "worker_processes": 1,
            "poweroff": "false",
            "s3_endpoint": self.env["AWS_ENDPOINT_URL"],
            "work_dir": self.tmp / name,
            "agent_id": name,
            # a master serves its web UI (never on a port another test holds); /metrics
            # only for the tests that ask (metrics_port=...): one port less to collide on
            **({"web_port": free_port(), "metrics_port": 0} if role == "master" else {}),
            **extra,
        }
        env_file = write_agent_env(self.tmp / f"{name}.env", **values)
        self.logs[name] = self.tmp / f"{name}.out"
        env = {**self.env, **(process_env or {})}
        self.agents[name] = start_agent(env_file, env, self.logs[name])

    def wait(self, timeout: float = AGENT_EXIT_TIMEOUT_S) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        codes = {}
        for name, proc in self.agents.items():
            try:
                codes[name] = proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pytest.fail(f"agent {name} did not exit:\n{self.output(name)}")
        return codes

    def output(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")[-4000:]

    def run_dir(self, name: str) -> Path:
        return self.tmp / name / "runs" / self.run_id


@pytest.fixture
def fleet(
    tmp_path: Path, moto_server: MotoServer, s3_env: dict[str, str], bucket: str
) -> Iterator[Fleet]:
    run_id = f"fleet-{int(time.time() * 1000)}"
    f = Fleet(tmp_path, bucket, run_id, dict(s3_env), free_port())
    yield f
    for proc in f.agents.values():
        stop_process(proc)


def wait_for_state(fleet: Fleet, state: str, timeout: float = 60.0) -> dict:
    """Wait until the master's status.json says `state` (the run is live)."""
    path = fleet.run_dir("master") / "status.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = json.loads(path.read_text())
            if status.get("state") == state:
                return status
        except (OSError, ValueError):
            pass
        for name, proc in fleet.agents.items():
            if proc.poll() is not None:
                pytest.fail(f"agent {name} exited early:\n{fleet.output(name)}")
        time.sleep(0.2)
    pytest.fail(f"the run never reached {state!r}:\n{fleet.output('master')}")


def locust_pid(fleet: Fleet, agent: str) -> int:
    """The pid of the first Locust process an agent started (from its log)."""
    for line in fleet.output(agent).splitlines():
        if " (pid " in line and "started " in line:
            return int(line.rsplit("(pid ", 1)[1].rstrip(")"))
    pytest.fail(f"{agent} started no Locust process:\n{fleet.output(agent)}")


def fetch(fleet: Fleet) -> Path:
    dest = fleet.tmp / "fetched"
    assert main(["fetch", f"s3://{fleet.bucket}/runs/{fleet.run_id}", str(dest)]) == 0
    return dest


def push(fleet: Fleet, target: str, stages: str, extra: str = "") -> None:
    """Validate and upload a schedule (browse scenario, uniform arrivals) for the fleet."""
    text = live_schedule_yaml(name="fleet", target=target, stages=stages, extra=extra)
    path = fleet.tmp / "schedule.yaml"
    path.write_text(text)
    url = f"s3://{fleet.bucket}/schedules/{fleet.run_id}.yaml"
    assert main(["schedule", "push", str(path), url]) == 0


def run_fleet(
    fleet: Fleet, target: str, stages: str, *, extra: str = "", workers: int = 2, **env: str
) -> dict:
    """Push a schedule, start a master and `workers` worker agents (w1, w2...), wait until
    the run is live; returns the master's status then. `env`: extra agent settings."""
    push(fleet, target, stages, extra)
    fleet.start("master", "master", expect_workers=workers, **env)
    for i in range(1, workers + 1):
        fleet.start(f"w{i}", "worker", **env)
    return wait_for_state(fleet, "running")


def answered(target: str) -> int:
    """Responses the loopback target (`tests.helpers.target_server`) has fully written."""
    with urllib.request.urlopen(target + "/answered", timeout=5) as resp:
        return int(resp.read())


def settled_answered(target: str, quiet_s: float = 1.0, timeout_s: float = 30.0) -> int:
    """The target's answered count once it stopped moving for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    last = answered(target)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = answered(target)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the target kept answering for {timeout_s:g}s")


def answered_rows(run_dir: Path) -> int:
    """Rows of a run that were sent and answered (every outcome but dropped)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from surge.results import list_parts

    total = 0
    for part in list_parts(run_dir):
        outcome = pq.read_table(part, columns=["outcome"])["outcome"].cast("string")
        total += int(pc.sum(pc.not_equal(outcome, "dropped")).as_py() or 0)
    return total


def manifest_json(run_dir: Path) -> dict:
    """The manifest as written (raw JSON: the tests check the contract's keys)."""
    return json.loads((run_dir / "manifest.json").read_text())
