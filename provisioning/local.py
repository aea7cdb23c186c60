"""Bring up a run on this machine: one Locust master and N worker processes on loopback.

`run_local` is the library function `surge run` and `surge demo` call; `locust_command`
is the one place a Locust command line for surge is built, so the EC2 instance agent
starts exactly the same processes on a fleet.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surge.errors import InfrastructureError, SurgeError
from surge.provisioning.scenario import ScenarioSetup, find_locustfile, local_scenario
from surge.results import FINAL_STATES, STATUS_FILE, Manifest, parse_status
from surge.schedule import load_schedule

ENGINE_LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfiles" / "engine.py"
REPO_ROOT = ENGINE_LOCUSTFILE.parent.parent
LOOPBACK = "127.0.0.1"
POLL_INTERVAL_S = 0.5
STOP_GRACE_S = 10.0  # after SIGINT/SIGTERM, how long processes get before SIGKILL
START_SLACK_S = 60.0  # beyond the hard end, for process start-up and final writes


class Role(enum.Enum):
    MASTER = "master"
    WORKER = "worker"
    STANDALONE = "standalone"


@dataclass
class LocalRunResult:
    """How a local run ended.

    Attributes:
        exit_code: the master's exit code (0 ok, 1 thresholds aborted the run,
            3 untrustworthy, 130 interrupted, other: Locust/infrastructure failure).
        run_dir: the run directory.
        interrupted: Ctrl-C (or a signal) stopped the run.
        worker_exit_codes: exit code of each worker process, in start order.
        manifest: the manifest the master wrote, if any.
    """

    exit_code: int
    run_dir: Path
    interrupted: bool = False
    worker_exit_codes: list[int | None] = field(default_factory=list)
    manifest: Manifest | None = None


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def locust_command(
    role: Role | str,
    *,
    scenario_locustfile: str | Path,
    run_dir: str | Path,
    run_id: str,
    schedule_path: str | Path | None = None,
    target: str | None = None,
    master_host: str = LOOPBACK,
    master_port: int = 5557,
    master_bind_host: str = LOOPBACK,
    expect_workers: int = 1,
    ui: bool = False,
    web_host: str = LOOPBACK,
    web_port: int = 8089,
    extra_args: Sequence[str] = (),
    python: str = sys.executable,
) -> list[str]:
    """The Locust command line for one surge process (master, worker or standalone)."""
    role = Role(role)
    cmd = [
        python, "-m", "locust",
        "-f", f"{ENGINE_LOCUSTFILE},{Path(scenario_locustfile).resolve()}",
        "--surge-run-dir", str(run_dir),
        "--surge-run-id", run_id,
    ]  # fmt: skip
    if role is Role.WORKER:
        cmd += ["--worker", "--master-host", master_host, "--master-port", str(master_port)]
        return [*cmd, *extra_args]
    if schedule_path is None:
        raise ValueError("the master needs the schedule")
    cmd += ["--surge-schedule", str(schedule_path)]
    if target:
        cmd += ["--surge-target", target]
    if role is Role.MASTER:
        cmd += [
            "--master", "--master-bind-host", master_bind_host,
            "--master-bind-port", str(master_port), "--expect-workers", str(expect_workers),
        ]  # fmt: skip
    if ui:
        cmd += ["--web-host", web_host, "--web-port", str(web_port)]
    else:
        cmd += ["--headless", "--only-summary"]
    return [*cmd, *extra_args]


def _scenario_path(schedule_path: Path, locustfile: str) -> Path:
    """A schedule's locustfile, relative to the schedule, else surge's own (the default)."""
    return find_locustfile(Path(schedule_path).resolve().parent, locustfile, str(schedule_path))


def run_local(
    schedule_path: str | Path,
    run_dir: str | Path,
    *,
    workers: int = 2,
    target: str | None = None,
    ui: bool = False,
    run_id: str,
    on_status: Callable[[dict[str, Any]], None] | None = None,
    web_port: int = 8089,
    extra_args: Sequence[str] = (),
    log_dir: str | Path | None = None,
    scenario: ScenarioSetup | None = None,
    web_host: str = LOOPBACK,
    ui_hold: Callable[[], None] | None = None,
) -> LocalRunResult:
    """Run a schedule on this machine and wait for it to finish.

    ``workers=0`` runs a single standalone process. `on_status` is called with each new
    ``status.json`` while the run lasts. Ctrl-C stops every process cleanly (SIGINT,
    then SIGKILL after `STOP_GRACE_S`) and is re-raised after cleanup. `scenario`
    defaults to the locustfile beside the schedule (`provisioning.scenario`). With a UI,
    `ui_hold` is called once the run is over while the UI still serves (``surge run --ui``:
    report, then wait for Enter); everything stops when it returns.
    """
    schedule_path = Path(schedule_path).resolve()  # Locust runs in the scenario's folder
    schedule = load_schedule(schedule_path)
    if target:
        schedule = schedule.with_target(target)
    setup = scenario or local_scenario(schedule_path, schedule)
    run_dir, logs = _directories(run_dir, log_dir)
    port = free_port()
    common = {"scenario_locustfile": setup.locustfile, "run_dir": run_dir, "run_id": run_id}
    role = Role.MASTER if workers > 0 else Role.STANDALONE
    master_cmd = locust_command(
        role, schedule_path=schedule_path, target=target, master_port=port,
        expect_workers=max(workers, 1), ui=ui, web_port=web_port, web_host=web_host,
        extra_args=extra_args, **common,
    )  # fmt: skip
    env = {**setup.process_env(), "PYTHONPATH": python_path()}
    procs: list[subprocess.Popen] = []
    interrupted = False
    deadline = _deadline(schedule, time.time(), ui)
    try:
        worker_cmd = locust_command(Role.WORKER, master_port=port, **common)
        commands = [("master", master_cmd)] + [(f"worker-{i}", worker_cmd) for i in range(workers)]
        for name, cmd in commands:  # appended one by one: a failed start stops the others
            procs.append(_spawn(cmd, logs / f"{name}.log", env, setup.cwd))
        master = procs[0]
        _watch(master, run_dir, deadline, on_status, until_over=ui_hold is not None)
        if ui_hold is not None and master.poll() is None:
            ui_hold()
        for p in procs[1:]:
            _wait(p, STOP_GRACE_S if master.poll() is not None else 0.0)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        _stop_all(procs)
        if interrupted:
            _report_status(run_dir, None, on_status)
    return _result(procs, run_dir, interrupted)


def _directories(run_dir: str | Path, log_dir: str | Path | None) -> tuple[Path, Path]:
    """The run directory and the log directory, absolute (Locust runs elsewhere), made."""
    run_dir = Path(run_dir).resolve()
    logs = Path(log_dir).resolve() if log_dir else run_dir / "logs"
    for folder in (run_dir, logs):
        folder.mkdir(parents=True, exist_ok=True)
    return run_dir, logs


def _result(procs: list[subprocess.Popen], run_dir: Path, interrupted: bool) -> LocalRunResult:
    manifest = None
    with contextlib.suppress(SurgeError):  # none, or a broken one: the exit code says why
        manifest = Manifest.load(run_dir)
    return LocalRunResult(
        exit_code=procs[0].returncode if procs[0].returncode is not None else 1,
        run_dir=run_dir,
        interrupted=interrupted,
        worker_exit_codes=[p.returncode for p in procs[1:]],
        manifest=manifest,
    )


def _watch(
    master: subprocess.Popen,
    run_dir: Path,
    deadline: float,
    on_status: Callable | None,
    *,
    until_over: bool,
) -> None:
    """Follow the run's status until the master exits (or, `until_over`, until the run is
    over: a UI master outlives it); past the hard end it is an infrastructure error."""
    last_status = None
    while master.poll() is None:
        if time.time() > deadline:
            raise InfrastructureError(
                "the run did not end by the schedule's hard end; stopped it", str(run_dir)
            )
        last_status = _report_status(run_dir, last_status, on_status)
        if until_over and _run_over(run_dir):
            break
        time.sleep(POLL_INTERVAL_S)
    _report_status(run_dir, last_status, on_status)


def _run_over(run_dir: Path) -> bool:
    """status.json says the run ended (the master writes it last, in one rename)."""
    try:
        state = json.loads((run_dir / STATUS_FILE).read_text()).get("state")
    except (OSError, ValueError, AttributeError):
        return False
    return state in {s.value for s in FINAL_STATES}


def _deadline(schedule: Any, started: float, ui: bool) -> float:
    import datetime as dt

    if ui:
        return float("inf")  # the engineer starts it from the web UI, whenever
    start = schedule.start_at.timestamp() if schedule.start_at else started
    hard_end = schedule.hard_end(dt.datetime.fromtimestamp(start, dt.UTC)).timestamp()
    return hard_end + START_SLACK_S


def python_path() -> str:
    """PYTHONPATH for Locust processes: only the user's own. surge imports as ``surge.*``
    (installed or editable); adding the repository or package folder would expose its
    rooms as top-level names, and a regular ``locustfiles`` package there would shadow
    the user's own ``locustfiles/`` folder (a namespace package) in their imports."""
    return os.environ.get("PYTHONPATH", "")


def _spawn(
    cmd: list[str], log_path: Path, env: dict[str, str], cwd: Path = REPO_ROOT
) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 (kept open for the child's lifetime)
    try:
        return subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()


def _report_status(run_dir: Path, last: str | None, on_status: Callable | None) -> str | None:
    if on_status is None:
        return last
    try:
        text = (run_dir / STATUS_FILE).read_text()
    except OSError:
        return last
    if text != last:
        with contextlib.suppress(ValueError):
            on_status(parse_status(text, str(run_dir / STATUS_FILE)))  # version checked
    return text


def _wait(proc: subprocess.Popen, timeout: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)


def _stop_all(procs: list[subprocess.Popen]) -> None:
    """SIGINT the master first (it tells workers to quit), then everyone; SIGKILL stragglers."""
    for i, p in enumerate(procs):
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGINT if i == 0 else signal.SIGTERM)
    end = time.monotonic() + STOP_GRACE_S
    for p in procs:
        _wait(p, max(end - time.monotonic(), 0.1))
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            _wait(p, 5.0)
