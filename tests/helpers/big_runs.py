"""Large synthetic run directories, vectorised (millions of requests in a second or two).

`make_run` (tests/helpers/runs.py) builds rows one by one: right for a few thousand
requests with exact intent. `awkward_run` writes up to millions through the same
contract (`surge.results.write_part`, `Manifest.new`), with the data that breaks
careless aggregation: heavy latency ties, dropped rows, an empty stage, a ramp, an
endpoint that exists in one stage only, errors, timeouts and throttling, and requests
intended before the window of their stage (the warm-up). It also returns the raw
columns, so tests can check every number against a brute-force sort.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from surge.results import REQUEST_SCHEMA, Manifest, WorkerEntry, write_part
from surge.schedule import parse_schedule

START = dt.datetime(2026, 11, 27, 10, 0, 0, tzinfo=dt.UTC)
START_US = int(START.timestamp() * 1_000_000)
OUTCOMES = ("ok", "rejected", "error", "timeout", "dropped")
#: stage 0 hold 60 s, stage 1 hold 30 s WITHOUT requests, stage 2 ramp 30 s, stage 3 hold 60 s
SCHEDULE = """\
name: awkward
target: http://127.0.0.1:8080
load:
  stages:
    - {rps: 100, duration: 60s}
    - {rps: 100, duration: 30s}
    - {ramp_to: 300, duration: 30s}
    - {rps: 300, duration: 60s}
"""
EMPTY_STAGE = 1
ONLY_IN_LAST = "POST /only-in-last-stage"


def _dict(codes: np.ndarray, values: list[str], mask: np.ndarray | None = None) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32(), mask=mask), values)


def awkward_columns(total: int, seed: int = 17) -> dict[str, np.ndarray]:
    """Raw columns of `total` requests spread over the schedule (stage 1 left empty)."""
    rng = np.random.default_rng(seed)
    spans = [(0, 0.0, 60.0), (2, 90.0, 120.0), (3, 120.0, 180.0)]  # (stage, start_s, end_s)
    which = rng.choice(len(spans), total, p=[0.25, 0.25, 0.5])
    stage = np.array([s for s, _, _ in spans], np.int16)[which]
    lo = np.array([a for _, a, _ in spans])[which]
    hi = np.array([b for _, _, b in spans])[which]
    offset_us = (lo * 1e6 + rng.random(total) * (hi - lo) * 1e6).astype(np.int64)
    # ties: most latencies on a 1 ms grid of 50 values, a few distinct ones, a long tail
    latency = (rng.integers(1, 51, total) * 1000).astype(np.int64)
    tail = rng.random(total) < 0.02
    latency[tail] = rng.integers(50_000, 3_000_000, int(tail.sum()))
    lag = np.where(rng.random(total) < 0.5, 0, rng.integers(0, 2000, total)).astype(np.int64)
    outcome = rng.choice(5, total, p=[0.9, 0.03, 0.04, 0.01, 0.02]).astype(np.int8)
    dropped = outcome == 4
    status = np.select([dropped | (outcome == 3), outcome == 1, outcome == 2], [0, 409, 503], 200)
    name = np.where(stage == 3, rng.integers(0, 3, total), rng.integers(0, 2, total)).astype(
        np.int32
    )  # 0 GET /products, 1 GET /cart, 2 POST /only-in-last-stage (stage 3 only)
    worker = rng.integers(0, 4, total).astype(np.int32)
    return {
        "worker": worker,
        "name": name,
        "stage": stage,
        "intended_us": START_US + offset_us,
        "offset_us": offset_us,
        "latency_us": np.where(dropped, 0, latency),
        "lag_us": lag,
        "status": status.astype(np.int16),
        "outcome": outcome,
        "dropped": dropped,
    }


NAMES = ["GET /products", "GET /cart", ONLY_IN_LAST]


def awkward_run(
    root: Path, total: int, parts_per_worker: int = 6, seed: int = 17
) -> tuple[Path, dict]:
    """Write the run; returns (run_dir, raw columns) for brute-force checks."""
    cols = awkward_columns(total, seed)
    schedule = parse_schedule(SCHEDULE, "<awkward>")
    run_dir = Path(root) / "awkward-20261127T100000Z"
    workers = [f"w{i}" for i in range(4)]
    Manifest.new(
        run_id=run_dir.name,
        schedule=schedule,
        started_at=START,
        ended_at=START + dt.timedelta(seconds=schedule.duration_s),
        workers=[WorkerEntry(id=w, host="localhost") for w in workers],
    ).dump(run_dir)
    # a worker's parts are consecutive in completion time, like the engine's
    done = cols["intended_us"] + cols["latency_us"]
    for w, worker in enumerate(workers):
        mine = np.flatnonzero(cols["worker"] == w)
        mine = mine[np.argsort(done[mine], kind="stable")]
        for seq, rows in enumerate(np.array_split(mine, parts_per_worker)):
            if len(rows):
                write_part(run_dir, worker, seq, _table(cols, rows, worker))
    return run_dir, cols


def _table(cols: dict[str, Any], rows: np.ndarray, worker: str) -> pa.Table:
    n = len(rows)
    dropped = cols["dropped"][rows]
    latency = cols["latency_us"][rows]
    lag = cols["lag_us"][rows]
    name = cols["name"][rows]
    outcome = cols["outcome"][rows]
    status = cols["status"][rows]
    method = np.where(dropped, 2, np.where(name == 2, 1, 0)).astype(np.int32)  # "": never sent
    error = np.where(status == 503, 0, 1).astype(np.int32)
    columns = {
        "worker": _dict(np.zeros(n, np.int32), [worker]),
        "name": _dict(name, [n.split(" ", 1)[1] for n in NAMES]),
        "method": _dict(method, ["GET", "POST", ""]),
        "stage": pa.array(cols["stage"][rows], pa.int16()),
        "intended_us": pa.array(cols["intended_us"][rows], pa.int64()),
        "sent_us": pa.array(cols["intended_us"][rows] + lag, pa.int64(), mask=dropped),
        "latency_us": pa.array(latency, pa.int64()),
        "service_us": pa.array(np.maximum(latency - lag, 0), pa.int64(), mask=dropped),
        "status": pa.array(status, pa.int16()),
        "outcome": _dict(outcome.astype(np.int32), list(OUTCOMES)),
        "bytes": pa.array(np.where(dropped, 0, 100), pa.int32()),
        "error": _dict(error, ["SlowDown"], mask=error != 0),
    }
    return pa.Table.from_arrays([columns[f.name] for f in REQUEST_SCHEMA], schema=REQUEST_SCHEMA)


def nearest_rank(sorted_values: np.ndarray, percentile: float) -> float:
    """The brute-force definition: the value at rank ceil(p/100 * n), 1-based."""
    n = len(sorted_values)
    rank = max(1, -(-round(percentile * 10) * n // 1000))
    return float(sorted_values[rank - 1])
