"""Running the generators under test: wrk, plain Locust, and surge, each bounded in time.

Every run here is measured from outside: CPU time from the kernel for the generator
process, request counts from the target (nginx's counter) or from surge's records.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.harness import REPO_ROOT, Context
from benchmarks.procs import GENERATOR_CPU, Sampler, pinned, running, spawn, wait, wait_for
from surge.provisioning.local import Role, locust_command
from surge.results import read_requests

SCENARIO = REPO_ROOT / "benchmarks" / "locustfiles" / "products.py"
PATH = "/products"
CONNECTIONS = 50  # wrk connections = Locust users = surge's max_in_flight
LOAD_START_TIMEOUT_S = 90.0  # Locust imports slowly on a busy machine
LOAD_PROBE_S = 0.5
LOAD_STARTED_MIN_RPS = 40.0  # above the harness's own status polls (~15/s)
RUN_TAIL_S = 4.0  # closed-loop runs last this much beyond warm-up + window (start-up jitter)
SURGE_START_SLACK_S = 120.0


class GeneratorKind:
    WRK = "wrk"
    LOCUST_FAST = "Locust FastHttpUser"
    LOCUST_HTTP = "Locust HttpUser"
    LOCUST_SURGE = "Locust SurgeHttpUser"  # surge's client in Locust's own closed loop
    SURGE = "surge (open model, recording)"  # with its own client: surge as shipped
    SURGE_FAST = "surge driving FastHttpUser (open model, recording)"
    SURGE_HTTP = "surge driving HttpUser (open model, recording)"


#: the scenario's User class each Locust-based generator runs (benchmarks/locustfiles)
USER_CLASS = {
    GeneratorKind.LOCUST_FAST: "FastProducts",
    GeneratorKind.LOCUST_HTTP: "HttpProducts",
    GeneratorKind.LOCUST_SURGE: "SurgeProducts",
    GeneratorKind.SURGE: "SurgeProducts",
    GeneratorKind.SURGE_FAST: "FastProducts",
    GeneratorKind.SURGE_HTTP: "HttpProducts",
}


@dataclass(frozen=True)
class Throughput:
    """A closed-loop generator's flat-out figures over the measured window."""

    rps: float
    cpu_us_per_request: float
    cpu_percent: float

    def as_dict(self) -> dict[str, float]:
        return {"rps": self.rps, "cpu_us": self.cpu_us_per_request, "cpu_pct": self.cpu_percent}


def locust_argv(
    user: str, host: str, *, users: int, seconds: float, extra: Sequence[str] = ()
) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(SCENARIO), user, "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{round(seconds)}s", "-H", host,
        "--only-summary", "--loglevel", "WARNING", *extra,
    ]  # fmt: skip


def closed_loop_argv(kind: str, url: str, seconds: float) -> list[str]:
    if kind == GeneratorKind.WRK:
        d = f"{round(seconds)}s"
        return ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{d}", url + PATH]
    return locust_argv(USER_CLASS[kind], url, users=CONNECTIONS, seconds=seconds)


def closed_loop(
    ctx: Context, kind: str, url: str, counter: Any, *, warmup_s: float, window_s: float, log: Path
) -> Throughput:
    """Run one closed-loop generator flat out, pinned to the generator core.

    The window starts `warmup_s` after the target first sees load, so start-up (Locust
    imports, user spawning) is never counted.
    """
    argv = pinned(closed_loop_argv(kind, url, warmup_s + window_s + RUN_TAIL_S), GENERATOR_CPU)
    ctx.log_command(argv)
    proc = spawn(argv, log=log, cwd=REPO_ROOT)
    with running(proc), Sampler(lambda: [proc.pid], counter) as sampler:
        if not wait_for(lambda: _under_load(counter), LOAD_START_TIMEOUT_S, 0.0):
            raise RuntimeError(
                f"{kind} sent no load within {LOAD_START_TIMEOUT_S:.0f}s (see {log})"
            )
        start = time.time() + warmup_s
        time.sleep(warmup_s + window_s)
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} ended before the measured window did (see {log})")
        seconds, cpu_s, count = sampler.window(start, start + window_s)
    # leaving `running` stops the generator: the rest of its planned time is not needed
    if count <= 0 or seconds <= 0:
        raise RuntimeError(f"{kind}: no requests in the measured window")
    return Throughput(
        rps=count / seconds,
        cpu_us_per_request=cpu_s / count * 1e6,
        cpu_percent=cpu_s / seconds * 100,
    )


def _under_load(counter: Any) -> bool:
    """The target's counter grows faster than the harness's own polling could make it."""
    before = counter()
    time.sleep(LOAD_PROBE_S)
    return (counter() - before) / LOAD_PROBE_S >= LOAD_STARTED_MIN_RPS


# ---------------------------------------------------------------- surge


def schedule_yaml(
    *,
    name: str,
    target: str,
    stages: Sequence[tuple[float, float]],
    user: str = USER_CLASS[GeneratorKind.SURGE],
    locustfile: Path = SCENARIO,
    max_in_flight: int = CONNECTIONS,
    arrivals: str = "poisson",
    timeout_s: float = 10.0,
    max_lateness_s: float = 1.0,
    per_worker: bool = False,
    client: str = "auto",
) -> str:
    """A schedule of holds: `stages` are (rate req/s, seconds). TLS is not verified: the
    benchmark's nginx has a throwaway self-signed certificate (loopback only)."""
    lines = "\n".join(f"    - {{rps: {rate:g}, duration: {secs:g}s}}" for rate, secs in stages)
    return (
        f"name: {name}\ntarget: {target}\narrivals: {arrivals}\n"
        f"scenario:\n  locustfile: {locustfile}\n  user: {user}\n"
        f"  client: {client}\n  tls: {{verify: false}}\n"
        f"load:\n  per_worker: {str(per_worker).lower()}\n  stages:\n{lines}\n"
        f"limits:\n  timeout: {timeout_s:g}s\n  max_in_flight: {max_in_flight}\n"
        f"  max_lateness: {max_lateness_s:g}s\n"
    )


@dataclass
class SurgeRun:
    """A finished surge run: where it wrote, when it started, its exit code."""

    run_dir: Path
    exit_code: int | None
    start_epoch: float | None
    sampler: Sampler | None = None


def standalone(
    ctx: Context,
    schedule_text: str,
    run_dir: Path,
    counter: Any,
    *,
    duration_s: float,
    cpu: int | None = GENERATOR_CPU,
) -> SurgeRun:
    """One surge process (no workers), pinned, sampled; returns after it exits by itself."""
    shutil.rmtree(run_dir, ignore_errors=True)  # records of an earlier run would count too
    run_dir.mkdir(parents=True)
    schedule = run_dir.parent / f"{run_dir.name}.yaml"
    schedule.write_text(schedule_text)
    argv = locust_command(
        Role.STANDALONE,
        scenario_locustfile=SCENARIO,
        run_dir=run_dir,
        run_id=run_dir.name,
        schedule_path=schedule,
        extra_args=["--loglevel", "WARNING"],
    )
    argv = pinned(argv, cpu)
    ctx.log_command(argv)
    proc = spawn(argv, log=run_dir.parent / f"{run_dir.name}.log", cwd=REPO_ROOT)
    with running(proc), Sampler(lambda: [proc.pid], counter) as sampler:
        code = wait(proc, duration_s + SURGE_START_SLACK_S)
    return SurgeRun(run_dir, code, manifest_start(run_dir), sampler)


def manifest_start(run_dir: Path) -> float | None:
    try:
        started = json.loads((run_dir / "manifest.json").read_text()).get("started_at")
    except (OSError, ValueError):
        return None
    if not started:
        return None
    return pd.Timestamp(started).timestamp()


def stage_figures(
    run_dir: Path, start_epoch: float, stages: Sequence[tuple[float, float]]
) -> list[dict[str, Any]]:
    """Per stage: scheduled and achieved rate, dropped share, send lag, from the records.

    "Achieved" counts requests actually sent inside the stage's wall-clock window;
    lag is actual minus intended send time.
    """
    table = read_requests(run_dir, ["stage", "intended_us", "sent_us", "outcome"])
    frame = table.to_pandas()
    frame["outcome"] = frame["outcome"].astype(str)
    out = []
    offset = 0.0
    for index, (rate, secs) in enumerate(stages):
        lo_us, hi_us = (start_epoch + offset) * 1e6, (start_epoch + offset + secs) * 1e6
        in_stage = frame[frame["stage"] == index]
        sent = frame["sent_us"].between(lo_us, hi_us, inclusive="left")
        lag = (in_stage["sent_us"] - in_stage["intended_us"]).dropna() / 1e6
        dropped = int((in_stage["outcome"] == "dropped").sum())
        out.append(
            {
                "stage": index,
                "scheduled_rps": rate,
                "achieved_rps": int(sent.sum()) / secs,
                "arrivals": len(in_stage),
                "dropped_share": dropped / len(in_stage) if len(in_stage) else None,
                "lag_p50_ms": float(lag.quantile(0.5)) * 1e3 if len(lag) else None,
                "lag_p99_ms": float(lag.quantile(0.99)) * 1e3 if len(lag) else None,
                "errors": int(in_stage["outcome"].isin(["error", "timeout"]).sum()),
                "window": (start_epoch + offset, start_epoch + offset + secs),
            }
        )
        offset += secs
    return out
