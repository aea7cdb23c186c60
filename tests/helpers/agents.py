"""Helpers for the runs tests: schedules for live runs, instance agents as processes."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.children import stop_child

REPO_ROOT = Path(__file__).resolve().parents[2]
BROWSE_LOCUSTFILE = "tests/helpers/browse_locustfile.py"  # relative to the repository


def live_schedule_yaml(
    *,
    target: str,
    stages: str,
    name: str = "live",
    start_at: dt.datetime | None = None,
    extra: str = "",
) -> str:
    """A schedule for a real run: uniform arrivals, the browse scenario, `stages` as YAML flow."""
    lines = [
        f"name: {name}",
        f"target: {target}",
        "arrivals: uniform",
        f"scenario: {{locustfile: {BROWSE_LOCUSTFILE}}}",
        f"load: {{stages: {stages}}}",
    ]
    if start_at is not None:
        lines.append(f"start_at: {start_at.astimezone(dt.UTC).isoformat()}")
    return "\n".join(lines) + "\n" + extra


def write_agent_env(path: Path, **values: str | int | Path) -> Path:
    """An agent env file like the one user data writes (keys given without SURGE_)."""
    lines = [f"SURGE_{key.upper()}={value}" for key, value in values.items()]
    path.write_text("# written by the test, as user data would\n" + "\n".join(lines) + "\n")
    return path


def start_agent(env_file: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`surge agent --env-file ENV` as its own process (its own session, like a host)."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "surge", "agent", "--env-file", str(env_file)],
            cwd=REPO_ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; for cleanup after a failed test."""
    stop_child(proc, timeout_s=timeout)
