"""Run directory -> `RunData`: the manifest, the stages, the thresholds and one requests frame.

Only the columns the report needs are read, dictionary columns stay codes (the
outcome and error strings of 10 million requests are never materialised), and
nullable integers get a sentinel instead of becoming floats, so the frame of a
10-million-request run stays around 600 MB.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from analysis.percentiles import SortedValues
from surge.errors import RunDirError
from surge.results import (
    REQUEST_SCHEMA,
    Outcome,
    list_parts,
    read_health,
    read_manifest,
    read_requests,
)
from surge.thresholds import METRICS, Threshold

#: outcome -> small integer code used in the frame's `outcome` column (this order)
OUTCOMES: tuple[Outcome, ...] = (
    Outcome.OK,
    Outcome.REJECTED,
    Outcome.ERROR,
    Outcome.TIMEOUT,
    Outcome.DROPPED,
)
OK, REJECTED, ERROR, TIMEOUT, DROPPED = range(len(OUTCOMES))

#: statuses that mean "the target throttled us": Lambda/API Gateway 429, ELB/S3 503
DEFAULT_THROTTLE_STATUSES: frozenset[int] = frozenset({429, 503})
#: error texts that mean throttling whatever the status (the reference shop answers a
#: throttled DynamoDB write with 500 ProvisionedThroughputExceededException, like Lambda)
DEFAULT_THROTTLE_PATTERN = r"throttl|ProvisionedThroughputExceeded|TooManyRequests|SlowDown"
INT32_MAX = 2**31 - 1
MISSING = -1  # sentinel for a null integer (service time or send lag of a dropped request)

REQUEST_COLUMNS = (
    "worker",
    "name",
    "stage",
    "intended_us",
    "sent_us",
    "latency_us",
    "service_us",
    "status",
    "outcome",
    "error",
)


@dataclass(frozen=True)
class RunData:
    """Everything the report is computed from, loaded once."""

    run_dir: Path
    manifest: dict[str, Any]
    run_id: str
    start_us: int  # the schedule's start: offsets in the frame are relative to it
    workers: int  # generator processes, for per-worker rates
    stages: pd.DataFrame  # index, kind, start_s, end_s, duration_s, rate_from, rate_to, offered_rps
    thresholds: tuple[Threshold, ...]
    requests: pd.DataFrame  # one row per request, see `prepare_requests`
    health: pd.DataFrame | None  # one row per worker per second, or None

    @property
    def duration_s(self) -> float:
        return float(self.stages["end_s"].max()) if len(self.stages) else 0.0

    @cached_property
    def sorted_latency(self) -> SortedValues:
        """Corrected latency of every sent request, sorted once for all percentiles."""
        sent = self.requests["outcome"].to_numpy() != DROPPED
        return SortedValues.of(np.where(sent, self.requests["latency_us"].to_numpy(), MISSING))

    @cached_property
    def sorted_service(self) -> SortedValues:
        """Uncorrected latency (service time) of every sent request, sorted once."""
        return SortedValues.of(self.requests["service_us"].to_numpy())


def load_run(
    run_dir: str | Path,
    *,
    throttle_statuses: Collection[int] = DEFAULT_THROTTLE_STATUSES,
    throttle_pattern: str = DEFAULT_THROTTLE_PATTERN,
) -> RunData:
    """Read a run directory; raises `RunDirError` naming what is missing or wrong."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    schedule = manifest.get("schedule")
    if not isinstance(schedule, dict) or not isinstance(schedule.get("stages"), list):
        raise RunDirError(
            "manifest.json has no schedule with stages", str(run_dir / "manifest.json")
        )
    columns = _as_columns(read_columns(run_dir, REQUEST_COLUMNS))
    health = read_health(run_dir)
    start_us = _start_us(manifest, columns)
    workers = _worker_count(manifest, columns)
    return RunData(
        run_dir=run_dir,
        manifest=manifest,
        run_id=str(manifest.get("run_id") or run_dir.name),
        start_us=start_us,
        workers=workers,
        stages=stage_frame(schedule, workers),
        thresholds=parse_thresholds(schedule.get("thresholds") or [], run_dir),
        requests=prepare_requests(columns, start_us, set(throttle_statuses), throttle_pattern),
        health=None if health is None else prepare_health(health, start_us),
    )


def read_columns(run_dir: Path, columns: Collection[str]) -> pa.Table:
    """The request columns of every part, scanned as one dataset (threaded, ~2x faster
    than part by part); any problem falls back to `read_requests`, which names the part."""
    parts = list_parts(run_dir)
    if parts:
        try:
            dataset = ds.dataset([str(p) for p in parts], format="parquet", schema=REQUEST_SCHEMA)
            # the system allocator: freed Arrow buffers are reused by the NumPy arrays
            # built from them, instead of staying in Arrow's own pool (peak RSS)
            return dataset.to_table(columns=list(columns), memory_pool=pa.system_memory_pool())
        except (pa.ArrowException, OSError, ValueError):
            pass
    return read_requests(run_dir, columns=list(columns))


def _as_columns(table: pa.Table) -> dict[str, pa.ChunkedArray]:
    """The table as a dict of columns, so that converting them one by one frees each."""
    return dict(zip(table.column_names, table.columns, strict=True))


def _start_us(manifest: dict[str, Any], table: dict[str, pa.ChunkedArray]) -> int:
    started = manifest.get("started_at")
    if started:
        try:
            when = dt.datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        except ValueError:
            raise RunDirError(
                f"started_at is not an ISO time: {started!r}", "manifest.json"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return round(when.timestamp() * 1_000_000)
    first = pc.min(table["intended_us"]).as_py()
    return int(first or 0)


def _worker_count(manifest: dict[str, Any], table: dict[str, pa.ChunkedArray]) -> int:
    workers = manifest.get("workers")
    if isinstance(workers, list) and workers:
        return len(workers)
    return max(1, len(pc.unique(table["worker"].combine_chunks().dictionary)))


def stage_frame(schedule: dict[str, Any], workers: int) -> pd.DataFrame:
    """The schedule's stages with fleet-wide rates (per-worker rates times `workers`)."""
    scale = workers if schedule.get("per_worker") else 1
    rows = []
    for s in schedule["stages"]:
        try:
            rows.append(
                {
                    "stage": int(s["index"]),
                    "kind": str(s["kind"]),
                    "start_s": float(s["start_s"]),
                    "duration_s": float(s["duration_s"]),
                    "rate_from": float(s["rate_from"]) * scale,
                    "rate_to": float(s["rate_to"]) * scale,
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDirError(
                f"manifest schedule stage is malformed: {exc!r}", "manifest.json"
            ) from None
    frame = pd.DataFrame(
        rows, columns=["stage", "kind", "start_s", "duration_s", "rate_from", "rate_to"]
    )
    frame["end_s"] = frame["start_s"] + frame["duration_s"]
    frame["offered_rps"] = (frame["rate_from"] + frame["rate_to"]) / 2.0
    return frame


def parse_thresholds(raw: list[Any], run_dir: Path) -> tuple[Threshold, ...]:
    out = []
    for item in raw:
        try:
            threshold = Threshold(
                metric=item["metric"],
                op=item["op"],
                value=float(item["value"]),
                abort_on_fail=bool(item.get("abort_on_fail", False)),
                for_s=float(item.get("for_s", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDirError(
                f"manifest threshold is malformed: {item!r} ({exc!r})", str(run_dir)
            ) from None
        if threshold.metric not in METRICS:
            raise RunDirError(f"manifest threshold has an unknown metric: {item!r}", str(run_dir))
        out.append(threshold)
    return tuple(out)


def _ints(column: pa.ChunkedArray, dtype: Any) -> np.ndarray:
    return pc.fill_null(column, MISSING).to_numpy().astype(dtype, copy=False)


def _lookup_codes(column: pa.ChunkedArray, lookup: Any, dtype: Any) -> np.ndarray:
    """Map a dictionary column through `lookup(dictionary values) -> codes`, chunk by chunk."""
    pieces = []
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        table = np.asarray(lookup(chunk.dictionary.to_pylist()), dtype=dtype)
        indices = pc.fill_null(chunk.indices, 0).to_numpy(zero_copy_only=False)
        pieces.append(table[indices] if len(table) else np.zeros(len(indices), dtype))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype)


def _outcome_codes(values: list[str | None]) -> list[int]:
    known = {o.value: i for i, o in enumerate(OUTCOMES)}
    unknown = sorted({str(v) for v in values if v not in known})
    if unknown:
        raise RunDirError(f"request records carry unknown outcomes: {', '.join(unknown)}")
    return [known[v] for v in values]


def _int32(values: np.ndarray) -> np.ndarray:
    return np.clip(values, MISSING, INT32_MAX).astype(np.int32)


def prepare_requests(
    columns: dict[str, pa.ChunkedArray],
    start_us: int,
    throttle_statuses: set[int],
    throttle_pattern: str,
) -> pd.DataFrame:
    """One row per request, numeric and compact. Consumes `columns` (each is freed once
    converted, so the Arrow data and the frame are never both whole in memory).

    Columns: worker, name (categorical); stage, status (int16); outcome (int8 code in
    `OUTCOMES` order); throttled (bool); offset_us (intended time since the start);
    latency_us (corrected, from the intended time); service_us and lag_us (int32
    uncorrected latency and send lag, `MISSING` for dropped requests); sec, sent_sec,
    done_sec (second of the intended send, of the actual send and of completion; -1
    if none).
    """
    take = columns.pop
    offset = take("intended_us").to_numpy() - np.int64(start_us)
    latency = take("latency_us").to_numpy().astype(np.int64, copy=False)
    outcome = _lookup_codes(take("outcome"), _outcome_codes, np.int8)
    status = _ints(take("status"), np.int16)
    rx = re.compile(throttle_pattern, re.IGNORECASE)
    errors = take("error")
    by_text = _lookup_codes(errors, lambda vs: [bool(v and rx.search(v)) for v in vs], np.bool_)
    by_text &= errors.is_valid().to_numpy(zero_copy_only=False)
    del errors
    throttled = (outcome == ERROR) & (np.isin(status, list(throttle_statuses)) | by_text)
    del by_text
    sent = _ints(take("sent_us"), np.int64)
    was_sent = (sent != MISSING) & (outcome != DROPPED)
    sent = sent - start_us
    frame = pd.DataFrame(
        {
            "worker": take("worker").to_pandas(),
            "name": take("name").to_pandas(),
            "stage": _ints(take("stage"), np.int16),
            "outcome": outcome,
            "status": status,
            "throttled": throttled,
            "offset_us": offset,
            "latency_us": latency,
            "service_us": _int32(_ints(take("service_us"), np.int64)),
            "lag_us": _int32(np.where(was_sent, sent - offset, MISSING)),
            "sec": np.floor_divide(offset, 1_000_000).astype(np.int32),
            "sent_sec": np.where(was_sent, sent // 1_000_000, -1).astype(np.int32),
            "done_sec": np.where(outcome != DROPPED, (offset + latency) // 1_000_000, -1).astype(
                np.int32
            ),
        },
        copy=False,
    )
    for col in ("worker", "name"):
        if not isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("category")
    return frame


def prepare_health(table: pa.Table, start_us: int) -> pd.DataFrame:
    """Health samples with `sec`: the second of the run each one-second sample covers."""
    frame = table.to_pandas()
    frame["sec"] = (frame["time_us"] - start_us) // 1_000_000 - 1
    return frame.sort_values(["worker", "time_us"], kind="stable").reset_index(drop=True)
