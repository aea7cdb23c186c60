"""Analysis scale: `surge report` time and peak memory on 1 M to 432 M generated requests.

Not a test. Generates a run directory shaped like a real one (8 workers, in the layout
a finished run ends with: each worker's parts compacted into ~64 MB files, or with
--layout parts a part per worker every 10 s; a staircase that crosses a throttling
limit, random latencies that do not compress artificially, a health sample per worker
per second), then runs
`surge report` on it in a child process and prints wall time, the child's peak RSS
(from wait4) and bytes per request on disk. Goals (issue 17): 10 M <= 5 s; 40 M <= 2 GB;
432 M (a day at 5,000 req/s, opt-in: --large) <= 5 minutes and 4 GB; <= 12 B/request.
`--engines frame` measures the former one-frame report (SURGE_REPORT_ENGINE=frame).

    .venv/bin/python -m benchmarks.bench_analysis [--sizes 10M,40M] [--engines stream,frame]
        [--layout compacted|parts] [--repeats 2] [--keep] [--reuse]
        [--large (for --sizes 432M: the rehearsed day)]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from surge.locustfiles.compaction import COMPACT_TARGET_BYTES, ROW_GROUP_ROWS
from surge.results import (
    COMPRESSION,
    HEALTH_SCHEMA,
    REQUEST_SCHEMA,
    Manifest,
    WorkerEntry,
    compacted_name,
    list_parts,
    part_write_options,
    worker_dir,
    write_health,
    write_part,
)
from surge.schedule import parse_schedule

OUT_DIR = Path(__file__).resolve().parent / "out"
WORKERS = 8
PART_EVERY_S = 10  # the engine writes a part at least every 10 s
STEPS = 5  # hold stages in the staircase
CAPACITY_RPS = 5_000.0  # above this the synthetic target throttles
START = dt.datetime(2026, 11, 27, 10, 0, 0, tzinfo=dt.UTC)
SEED = 20261127


def schedule_for(total: int) -> tuple[Any, list[float]]:
    """A staircase (1, 3, 5, 7, 9) x unit req/s whose expected requests equal `total`.
    Steps are held 400 s up to 10 M requests (unit 1,000 req/s at 10 M); beyond, the
    steps get longer at the same rates, so 432 M is the rehearsed day: 5 x 4.8 h, 5,000
    req/s on average."""
    rates = [1.0, 3.0, 5.0, 7.0, 9.0]
    hold_s = max(400, round(total / (sum(rates) * 1_000.0)))
    unit = total / (sum(rates) * hold_s)
    steps = [r * unit for r in rates]
    text = (
        "name: bench-analysis\ntarget: http://127.0.0.1:8080\n"
        "load:\n  stages:\n"
        + "".join(f"    - {{rps: {r:.3f}, duration: {hold_s}s}}\n" for r in steps)
        + "thresholds:\n  - p95 < 3s\n  - p99 < 5s\n  - success_rate >= 99%\n"
    )
    return parse_schedule(text, "<bench>"), steps


def _dict(indices: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(
        pa.array(indices, pa.int32()), pa.array(values, pa.string())
    )


def worker_table(
    rng: np.random.Generator,
    schedule: Any,
    worker: int,
    start_us: int,
    span: tuple[float, float] | None = None,
) -> pa.Table:
    """One worker's share of the schedule (or of its `span` seconds): Poisson arrivals,
    lognormal latency, throttling."""
    lo_s, hi_s = span if span is not None else (0.0, schedule.duration_s)
    chunks = []
    for stage in schedule.stages:
        a, b = max(stage.start_s, lo_s), min(stage.end_s, hi_s)
        if b <= a:
            continue
        n = rng.poisson(stage.rate_to / WORKERS * (b - a))
        offsets = np.sort(rng.uniform(a, b, n))
        chunks.append((stage.index, offsets, stage.rate_to))
    stage_col = np.concatenate([np.full(len(o), i, np.int16) for i, o, _ in chunks])
    offset_s = np.concatenate([o for _, o, _ in chunks])
    over = np.concatenate([np.full(len(o), max(0.0, 1 - CAPACITY_RPS / r)) for _, o, r in chunks])
    n = len(offset_s)
    intended = start_us + (offset_s * 1e6).astype(np.int64)
    lag = rng.exponential(300, n).astype(np.int64)
    service = (rng.lognormal(np.log(40_000), 0.6, n) * (1 + 20 * over)).astype(np.int64)
    throttled = rng.random(n) < over
    timeout = rng.random(n) < over * 0.05
    rejected = (~throttled) & (rng.random(n) < 0.02)
    dropped = rng.random(n) < 0.00005
    outcome = np.select([dropped, timeout, throttled, rejected], [4, 3, 2, 1], 0).astype(np.int32)
    status = np.select([dropped | timeout, throttled, rejected], [0, 500, 409], 200).astype(
        np.int16
    )
    service = np.where(timeout, 30_000_000, service)
    latency = np.where(dropped, 1_000_000, lag + service)
    sent = pa.array(intended + lag, pa.int64(), mask=dropped)
    is_buy = rng.random(n) < 0.3
    columns = {
        "worker": _dict(np.zeros(n, np.int32), [f"w{worker}"]),
        "name": _dict(is_buy.astype(np.int32), ["browse", "buy"]),
        "method": _dict(is_buy.astype(np.int32), ["GET", "POST"]),
        "stage": pa.array(stage_col, pa.int16()),
        "intended_us": pa.array(intended, pa.int64()),
        "sent_us": sent,
        "latency_us": pa.array(latency, pa.int64()),
        "service_us": pa.array(service, pa.int64(), mask=dropped),
        "status": pa.array(status, pa.int16()),
        "outcome": _dict(outcome, ["ok", "rejected", "error", "timeout", "dropped"]),
        "bytes": pa.array(
            np.where(dropped, 0, 180 + (rng.random(n) * 40).astype(np.int32)), pa.int32()
        ),
        "error": pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(n, np.int32), pa.int32(), mask=~(throttled & ~timeout)),
            pa.array(["ProvisionedThroughputExceededException"], pa.string()),
        ),
    }
    return pa.Table.from_arrays([columns[f.name] for f in REQUEST_SCHEMA], schema=REQUEST_SCHEMA)


def health_rows(rng: np.random.Generator, schedule: Any, start_us: int) -> dict[str, list]:
    """One health sample per worker per second, as the engine writes them: CPU that
    follows the offered rate (below the saturation limit), send lag of a few hundred us."""
    seconds = np.arange(1, int(schedule.duration_s) + 1)
    rate = np.array([schedule.rate_at(float(t) - 0.5, WORKERS) for t in seconds]) / WORKERS
    peak = max(float(rate.max()), 1.0)
    columns: dict[str, list] = {name: [] for name in HEALTH_SCHEMA.names}
    for w in range(WORKERS):
        n = len(seconds)
        p50 = rng.normal(200, 30, n).clip(50)
        columns["time_us"] += (start_us + seconds * 1_000_000).tolist()
        columns["worker"] += [f"w{w}"] * n
        columns["cpu_percent"] += (15 + 55 * rate / peak + rng.normal(0, 4, n)).clip(1, 99).tolist()
        columns["send_lag_p50_us"] += p50.astype(int).tolist()
        columns["send_lag_p99_us"] += (p50 * rng.uniform(4, 8, n)).astype(int).tolist()
        columns["send_lag_max_us"] += (p50 * rng.uniform(10, 40, n)).astype(int).tolist()
        columns["in_flight"] += (rate * 0.05 * rng.uniform(0.5, 2, n)).astype(int).tolist()
        columns["sent"] += rng.poisson(rate).tolist()
        columns["late"] += rng.poisson(rate * 0.001).tolist()
        columns["dropped"] += [0] * n
        columns["cpu_wait_percent"] += rng.uniform(0, 3, n).tolist()
        columns["loop_lag_p99_us"] += rng.normal(800, 150, n).clip(100).astype(int).tolist()
    return columns


GENERATE_SPAN_S = 600  # seconds generated at a time (bounded memory at any size)
#: the layouts a run directory can be generated in: "compacted" is what a finished run
#: ends with (each worker's parts compacted into ~64 MB files, row groups of ~1 M rows:
#: `surge.locustfiles.compaction`); "parts" is a part per worker every 10 s, as a run
#: in progress (or one whose worker died before compacting) leaves them
LAYOUTS = ("compacted", "parts")


class _CompactedWriter:
    """One worker's compacted files, written as the worker's end-of-run compaction
    writes them (same names, options, row groups and size), without the small parts
    first: generating 432 M requests stays a loop of row groups in bounded memory."""

    def __init__(self, run_dir: Path, worker: str) -> None:
        self.folder = worker_dir(run_dir, worker)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.tmp = self.folder / ".compacting.parquet"
        self.writer: pq.ParquetWriter | None = None
        self.first = self.last = 0  # the small parts' sequence numbers the file covers
        self.buffered: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table, first_seq: int, last_seq: int) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(
                self.tmp, REQUEST_SCHEMA, compression=COMPRESSION,
                **part_write_options(REQUEST_SCHEMA),
            )  # fmt: skip
            self.first = first_seq
        self.last = last_seq
        self.buffered.append(table)
        self.rows += table.num_rows
        if self.rows >= ROW_GROUP_ROWS:
            self._write_group()
            if self.tmp.stat().st_size >= COMPACT_TARGET_BYTES:
                self.close()

    def _write_group(self) -> None:
        assert self.writer is not None
        table = pa.concat_tables(self.buffered).unify_dictionaries().combine_chunks()
        self.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.buffered, self.rows = [], 0

    def close(self) -> None:
        if self.writer is None:
            return
        if self.buffered:
            self._write_group()
        self.writer.close()
        self.writer = None
        self.tmp.rename(self.folder / compacted_name(self.first, self.last))


def generate(run_dir: Path, total: int, layout: str = "compacted") -> int:
    """Write the run directory; returns the number of request records."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    schedule, _ = schedule_for(total)
    rng = np.random.default_rng(SEED)
    start_us = int(START.timestamp() * 1_000_000)
    rows = 0
    seq = dict.fromkeys(range(WORKERS), 0)
    writers = {w: _CompactedWriter(run_dir, f"w{w}") for w in range(WORKERS)}
    spans = np.arange(0, schedule.duration_s + GENERATE_SPAN_S, GENERATE_SPAN_S)
    for lo, hi in itertools.pairwise(spans):
        for w in range(WORKERS):
            table = worker_table(rng, schedule, w, start_us, (float(lo), float(hi)))
            if not table.num_rows:
                continue
            offsets = (table["intended_us"].to_numpy() - start_us) // (PART_EVERY_S * 1_000_000)
            first = int(offsets[0])
            bounds = np.searchsorted(offsets, np.arange(first, offsets.max() + 2))
            pieces = sum(1 for a, b in itertools.pairwise(bounds) if b > a)  # small parts
            if layout == "compacted":
                writers[w].add(table, seq[w], seq[w] + pieces - 1)
                seq[w] += pieces
            else:
                for a, b in itertools.pairwise(bounds):
                    if b > a:
                        write_part(run_dir, f"w{w}", seq[w], table.slice(a, b - a))
                        seq[w] += 1
            rows += table.num_rows
    for writer in writers.values():
        writer.close()
    write_health(run_dir, health_rows(rng, schedule, start_us))
    Manifest.new(
        run_id=run_dir.name,
        schedule=schedule,
        started_at=START,
        ended_at=START + dt.timedelta(seconds=schedule.duration_s),
        workers=[WorkerEntry(f"w{w}", "localhost") for w in range(WORKERS)],
    ).dump(run_dir)
    return rows


def time_report(run_dir: Path, engine: str = "stream") -> dict[str, float]:
    """Run `surge report` in a child; wall time and the child's own peak RSS (wait4: the
    largest of the child and its waited-for descendants, i.e. the process tree's)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "surge", "report", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "SURGE_REPORT_ENGINE": engine},
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": wall,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,
        "exit_code": child.returncode,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


def bench(
    total: int,
    keep: bool,
    engine: str = "stream",
    repeats: int = 2,
    reuse: bool = False,
    layout: str = "compacted",
) -> dict[str, Any]:
    run_dir = OUT_DIR / f"bench-analysis-{total}"
    t0 = time.perf_counter()
    if reuse and (run_dir / "manifest.json").exists():
        rows = sum(pq.read_metadata(p).num_rows for p in list_parts(run_dir))
    else:
        rows = generate(run_dir, total, layout)
    gen_s = time.perf_counter() - t0
    parts = list_parts(run_dir)
    on_disk = sum(p.stat().st_size for p in parts)
    runs = [time_report(run_dir, engine) for _ in range(repeats)]  # the first warms the cache
    best = min(runs, key=lambda r: r["seconds"])
    result = {
        "engine": engine,
        "layout": layout,
        "requests": rows,
        "parts": len(parts),
        "bytes_per_request": on_disk / rows,
        "generate_s": round(gen_s, 1),
        "report_s": round(best["seconds"], 2),
        "report_cpu_s": round(best["cpu_seconds"], 2),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "exit_code": best["exit_code"],
    }
    if not keep:
        shutil.rmtree(run_dir)
    return result


LARGE = 100_000_000  # sizes from here on need --large (432 M: ~5 GB of parts, ~15 min)


def parse_size(text: str) -> int:
    """`10000000`, `10M`, `432M`, `1.5G` -> requests."""
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1:], 1)
    return round(float(text[:-1] if scale > 1 else text) * scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10M,40M", help="comma-separated request counts (10M, 40M, 432M)"
    )
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="compacted",
        help="compacted (a finished run, default) or parts (a part per worker every 10 s)",
    )
    parser.add_argument(
        "--engines", default="stream", help="comma-separated: stream (default), frame"
    )
    parser.add_argument("--repeats", type=int, default=2, help="report runs per size (best)")
    parser.add_argument("--keep", action="store_true", help="keep the generated run directories")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept run directory")
    parser.add_argument(
        "--large", action="store_true", help=f"allow sizes of {LARGE:,} requests and more"
    )
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    if any(total >= LARGE for total in sizes) and not args.large:
        parser.error(f"sizes of {LARGE:,} requests and more need --large (disk: ~12 B/request)")
    engines = args.engines.split(",")
    results = []
    for total in sizes:
        for i, engine in enumerate(engines):
            last = i == len(engines) - 1
            result = bench(
                total,
                args.keep or not last,
                engine,
                args.repeats,
                reuse=args.reuse or i > 0,
                layout=args.layout,
            )
            results.append(result)
            print(
                f"{result['requests']:>11,} requests  {result['parts']:>5} parts  "
                f"{result['bytes_per_request']:5.2f} B/request on disk  "
                f"report[{engine}] {result['report_s']:6.2f} s "
                f"(cpu {result['report_cpu_s']:.2f} s)  "
                f"peak RSS {result['peak_rss_mb']:,} MB  exit {result['exit_code']}",
                flush=True,
            )
    print(json.dumps({"bench": "analysis", "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
