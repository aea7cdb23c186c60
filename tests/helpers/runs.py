"""Synthetic run directories from a compact description, through the results contract.

    run_dir = make_run(tmp_path, stages=[{"rps": 10, "duration": "10s"}],
                       thresholds=["p95 < 3s"],
                       requests=hold(rate=10, start_s=0, duration_s=10, latency_s=0.1))

Requests are `Req` rows (offset from the start, latency, outcome, ...); `make_run`
writes a manifest with `surge.results.Manifest` (keyword arguments such as `abort`,
`untrustworthy` or `master` are its fields) and one or more parts per worker with
`write_part`, exactly as the engine does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from surge.results import (
    REQUEST_SCHEMA,
    Manifest,
    WorkerEntry,
    write_health,
    write_part,
)
from surge.schedule import Schedule, parse_schedule

START = dt.datetime(2026, 11, 27, 10, 0, 0, tzinfo=dt.UTC)
START_US = int(START.timestamp() * 1_000_000)
TARGET = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Req:
    """One request record, in seconds relative to the schedule's start."""

    offset_s: float
    latency_s: float
    outcome: str = "ok"
    status: int = 200
    worker: str = "w1"
    name: str = "buy"
    lag_s: float = 0.0  # actual send - intended send
    error: str | None = None
    method: str | None = None  # None: POST for "buy", GET otherwise ("" when dropped)


def hold(
    *,
    rate: float,
    start_s: float,
    duration_s: float,
    latency_s: float | Callable[[int], float] = 0.05,
    workers: Sequence[str] = ("w1",),
    **fields: Any,
) -> list[Req]:
    """Uniform arrivals at `rate` for `duration_s`, round-robin over `workers`."""
    count = round(rate * duration_s)
    rows = []
    for i in range(count):
        latency = latency_s(i) if callable(latency_s) else latency_s
        rows.append(
            Req(
                offset_s=start_s + i / rate,
                latency_s=latency,
                worker=workers[i % len(workers)],
                **fields,
            )
        )
    return rows


def with_fields(rows: Iterable[Req], **fields: Any) -> list[Req]:
    return [replace(r, **fields) for r in rows]


def make_schedule(
    stages: Sequence[Mapping[str, Any]],
    thresholds: Sequence[Any] = (),
    *,
    name: str = "synthetic",
    per_worker: bool = False,
) -> Schedule:
    doc: dict[str, Any] = {
        "name": name,
        "target": TARGET,
        "load": {"per_worker": per_worker, "stages": [dict(s) for s in stages]},
    }
    if thresholds:
        doc["thresholds"] = list(thresholds)
    return parse_schedule(yaml.safe_dump(doc, sort_keys=False), source="<synthetic>")


def _columns(rows: Sequence[Req], schedule: Schedule, start_us: int) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {k: [] for k in REQUEST_SCHEMA.names}
    for r in rows:
        intended = start_us + round(r.offset_s * 1e6)
        latency = round(r.latency_s * 1e6)
        dropped = r.outcome == "dropped"
        lag = round(r.lag_s * 1e6)
        stage = schedule.stage_at(r.offset_s)
        cols["worker"].append(r.worker)
        cols["name"].append(r.name)
        default = "" if dropped else "POST" if r.name == "buy" else "GET"
        cols["method"].append(default if r.method is None else r.method)
        cols["stage"].append(stage.index if stage else len(schedule.stages) - 1)
        cols["intended_us"].append(intended)
        cols["sent_us"].append(None if dropped else intended + lag)
        cols["latency_us"].append(latency)
        cols["service_us"].append(None if dropped else max(latency - lag, 0))
        cols["status"].append(0 if dropped else r.status)
        cols["outcome"].append(r.outcome)
        cols["bytes"].append(0 if dropped else 128)
        cols["error"].append(r.error)
    return cols


def make_run(
    root: Path,
    *,
    stages: Sequence[Mapping[str, Any]],
    requests: Iterable[Req],
    thresholds: Sequence[Any] = (),
    run_id: str = "synthetic-20261127T100000Z",
    per_worker: bool = False,
    workers: Sequence[str] | None = None,
    parts_per_worker: int = 1,
    health: Mapping[str, Sequence[Any]] | None = None,
    started_at: dt.datetime = START,
    **manifest_fields: Any,
) -> Path:
    """Write a run directory under `root/run_id` and return its path."""
    schedule = make_schedule(stages, thresholds, per_worker=per_worker)
    run_dir = Path(root) / run_id
    rows = sorted(requests, key=lambda r: (r.worker, r.offset_s))
    names = list(workers) if workers is not None else sorted({r.worker for r in rows})
    start_us = int(started_at.timestamp() * 1_000_000)
    ended = started_at + dt.timedelta(seconds=schedule.duration_s)
    manifest = Manifest.new(
        run_id=run_id,
        schedule=schedule,
        started_at=started_at,
        ended_at=ended,
        workers=[WorkerEntry(id=w, host="localhost") for w in names],
        **manifest_fields,
    )
    manifest.dump(run_dir)
    for worker in names:
        mine = [r for r in rows if r.worker == worker]
        if not mine:
            continue
        size = -(-len(mine) // parts_per_worker)
        for seq in range(parts_per_worker):
            chunk = mine[seq * size : (seq + 1) * size]
            if chunk:
                write_part(run_dir, worker, seq, _columns(chunk, schedule, start_us))
    if health is not None:
        write_health(run_dir, health)
    return run_dir


def written_manifest(root: Path, **fields: Any) -> Manifest:
    """A manifest of a one-stage synthetic schedule with `fields`, written by the real
    writer into `root` and read back by the real reader (what a report would see)."""
    schedule = make_schedule([{"rps": 1, "duration": "1s"}])
    Manifest.new(run_id="synthetic", schedule=schedule, **fields).dump(root)
    return Manifest.load(root)


def health_rows(
    workers: Sequence[str],
    seconds: int,
    *,
    cpu: float | Callable[[str, int], float] = 40.0,
    lag_p99_s: float = 0.002,
    start_us: int = START_US,
) -> dict[str, list[Any]]:
    """One health sample per worker per second, in `surge.results.HEALTH_SCHEMA` columns."""
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "time_us",
            "worker",
            "cpu_percent",
            "send_lag_p50_us",
            "send_lag_p99_us",
            "send_lag_max_us",
            "in_flight",
            "sent",
            "late",
            "dropped",
        )
    }
    for worker in workers:
        for s in range(seconds):
            cols["time_us"].append(start_us + (s + 1) * 1_000_000)
            cols["worker"].append(worker)
            cols["cpu_percent"].append(cpu(worker, s) if callable(cpu) else cpu)
            cols["send_lag_p50_us"].append(int(lag_p99_s * 5e5))
            cols["send_lag_p99_us"].append(int(lag_p99_s * 1e6))
            cols["send_lag_max_us"].append(int(lag_p99_s * 2e6))
            cols["in_flight"].append(3)
            cols["sent"].append(10)
            cols["late"].append(0)
            cols["dropped"].append(0)
    return cols


def schedule_yaml(
    *, name: str = "synthetic", rps: float = 10, duration: str = "10s", target: str = TARGET
) -> str:
    """A small valid schedule as YAML text (for push/validate tests)."""
    doc = {
        "name": name,
        "target": target,
        "load": {"stages": [{"rps": rps, "duration": duration}]},
        "thresholds": ["p95 < 3s", "success_rate >= 99%"],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def fake_run_dir(root: Path, run_id: str = "fake-20261127T100000Z") -> Path:
    """A small complete run: manifest, one part for each of two workers, logs/master.log."""
    run_dir = make_run(
        root,
        run_id=run_id,
        stages=[{"rps": 10, "duration": "10s"}],
        thresholds=["p95 < 3s"],
        requests=hold(rate=10, start_s=0, duration_s=10, latency_s=0.05, workers=("w1", "w2")),
    )
    (run_dir / "logs").mkdir(exist_ok=True)
    (run_dir / "logs" / "master.log").write_text("master started\n")
    return run_dir
