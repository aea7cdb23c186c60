"""A local master + N workers for benchmarks, through `provisioning.local.run_local`.

The run goes exactly the way `surge run` starts it; this module adds what benchmarks
need around it: a hard time budget (the run is stopped, not waited for, when the budget
is spent) and CPU sampling of the master process while it runs.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from benchmarks.harness import Context
from benchmarks.loadgen import manifest_start
from benchmarks.procs import Sampler
from surge.provisioning.local import LocalRunResult, run_local

STOP_WAIT_S = 20.0


@dataclass
class FleetRun:
    """How a benchmark fleet run ended, with the master's CPU samples."""

    run_dir: Path
    result: LocalRunResult | None
    start_epoch: float | None
    sampler: Sampler
    error: str | None = None


def _ours(run_dir: Path) -> list[psutil.Process]:
    """This process's children that belong to the run (master and workers)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if str(run_dir) in " ".join(child.cmdline()):
                found.append(child)
    return found


def _master_pids(run_dir: Path) -> list[int]:
    pids = []
    for proc in _ours(run_dir):
        with contextlib.suppress(psutil.Error):
            cmdline = proc.cmdline()
            if "--master" in cmdline or "--surge-schedule" in cmdline:
                pids.append(proc.pid)
    return pids


def run_fleet(
    ctx: Context,
    schedule_text: str,
    run_dir: Path,
    *,
    workers: int,
    budget_s: float,
    counter: Any = lambda: 0,
) -> FleetRun:
    """Run a schedule on a local master and `workers` workers, within `budget_s`."""
    shutil.rmtree(run_dir, ignore_errors=True)  # records of an earlier run would count too
    run_dir.mkdir(parents=True)
    schedule = run_dir.parent / f"{run_dir.name}.yaml"
    schedule.write_text(schedule_text)
    ctx.log_command(
        f"python -c 'from provisioning.local import run_local; "
        f'run_local("{schedule}", "{run_dir}", workers={workers}, run_id="{run_dir.name}")\''
    )
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = run_local(schedule, run_dir, workers=workers, run_id=run_dir.name)
        except Exception as exc:  # reported in the result, not raised from a thread
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=target, daemon=True)
    with Sampler(lambda: _master_pids(run_dir), counter) as sampler:
        thread.start()
        thread.join(budget_s)
        if thread.is_alive():
            outcome.setdefault("error", f"still running after {budget_s:.0f}s: stopped")
            for proc in _ours(run_dir):
                with contextlib.suppress(psutil.Error):
                    proc.terminate()
            thread.join(STOP_WAIT_S)
            for proc in _ours(run_dir):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            thread.join(STOP_WAIT_S)
    return FleetRun(
        run_dir=run_dir,
        result=outcome.get("result"),
        start_epoch=manifest_start(run_dir),
        sampler=sampler,
        error=outcome.get("error"),
    )
