"""Run directory -> `RunData`: the manifest, the stages, the thresholds and one requests frame.

Only the columns the report needs are read (`analysis.records`), dictionary columns
stay codes (the outcome and error strings of 10 million requests are never
materialised), and nullable integers get a sentinel instead of becoming floats, so
the frame of a 10-million-request run takes about 430 MB.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from surge.analysis.endings import DamagedPart, incomplete, read_records_tolerant
from surge.analysis.records import (
    DROPPED,
    ERROR,
    INT32_MAX,
    MISSING,
    OK,
    OUTCOMES,
    REJECTED,
    TIMEOUT,
    Throttling,
    read_records,
)
from surge.errors import RunDirError
from surge.results import MANIFEST, Manifest, list_parts, part_worker, read_health, read_manifest
from surge.thresholds import METRICS, Threshold

__all__ = ["DROPPED", "ERROR", "MISSING", "OK", "OUTCOMES", "REJECTED", "TIMEOUT", "RunData"]

#: statuses that mean "the target throttled us": Lambda/API Gateway 429, ELB/S3 503
DEFAULT_THROTTLE_STATUSES: frozenset[int] = frozenset({429, 503})
#: error texts that mean throttling whatever the status (the reference shop answers a
#: throttled DynamoDB write with 500 ProvisionedThroughputExceededException, like Lambda)
DEFAULT_THROTTLE_PATTERN = (
    r"throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|TooManyRequests|SlowDown"
    r"|Rate Exceeded"
)


@dataclass(frozen=True)
class RunData:
    """Everything the report is computed from, loaded once."""

    run_dir: Path
    manifest: Manifest
    run_id: str
    start_us: int  # the schedule's start: offsets in the frame are relative to it
    workers: int  # generator processes, for per-worker rates
    stages: pd.DataFrame  # index, kind, start_s, end_s, duration_s, rate_from, rate_to, offered_rps
    thresholds: tuple[Threshold, ...]
    requests: pd.DataFrame  # one row per request, see `prepare_requests`
    health: pd.DataFrame | None  # one row per worker per second, or None
    #: why the records are incomplete (damaged parts, master lost...; `analysis.endings`)
    incomplete: tuple[str, ...] = ()
    damaged: tuple[DamagedPart, ...] = ()
    #: bounded-memory aggregates (`analysis.streaming.StreamedRun`); when set, `requests`
    #: is empty and the report reads these instead (`analysis.streamed_report`)
    streamed: Any = None

    @property
    def duration_s(self) -> float:
        return float(self.stages["end_s"].max()) if len(self.stages) else 0.0

    @cached_property
    def sent_latency(self) -> np.ndarray:
        """Corrected latency of every request, `MISSING` for dropped ones (never sent):
        the values every latency percentile is taken from."""
        sent = self.requests["outcome"].to_numpy() != DROPPED
        return np.where(sent, self.requests["latency_us"].to_numpy(), MISSING)


def load_run(
    run_dir: str | Path,
    *,
    throttle_statuses: Collection[int] = DEFAULT_THROTTLE_STATUSES,
    throttle_pattern: str = DEFAULT_THROTTLE_PATTERN,
) -> RunData:
    """Read a run directory; raises `RunDirError` naming what is missing or wrong."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    schedule = manifest.schedule
    if not isinstance(schedule.get("stages"), list):
        raise RunDirError("manifest.json has no schedule with stages", str(run_dir / MANIFEST))
    throttling = Throttling.of(throttle_statuses, throttle_pattern)
    columns, damaged = read_records_tolerant(  # one damaged part does not sink the run
        run_dir, manifest, lambda d, skip: read_records(d, throttling, skip)
    )
    health = read_health(run_dir)
    start_us = _start_us(manifest, columns["intended_us"])
    workers = _worker_count(manifest, run_dir)
    return RunData(
        run_dir=run_dir,
        manifest=manifest,
        run_id=manifest.run_id or run_dir.name,
        start_us=start_us,
        workers=workers,
        stages=stage_frame(schedule, workers),
        thresholds=parse_thresholds(schedule.get("thresholds") or [], run_dir),
        requests=prepare_requests(columns, start_us),
        health=None if health is None else prepare_health(health, start_us),
        incomplete=tuple(incomplete(manifest, run_dir, damaged)),
        damaged=tuple(damaged),
    )


def _start_us(manifest: Manifest, intended_us: np.ndarray) -> int:
    if manifest.started_at is not None:
        return round(manifest.started_at.timestamp() * 1_000_000)
    return int(intended_us.min()) if len(intended_us) else 0


def _worker_count(manifest: Manifest, run_dir: Path) -> int:
    """Generator processes: the manifest's list, else the worker folders under requests/."""
    if manifest.workers:
        return len(manifest.workers)
    return max(1, len({part_worker(part) for part in list_parts(run_dir)}))


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
                    "name": str(s.get("name") or ""),  # optional label (schedule `name:`)
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDirError(
                f"manifest schedule stage is malformed: {exc!r}", "manifest.json"
            ) from None
    frame = pd.DataFrame(
        rows, columns=["stage", "kind", "start_s", "duration_s", "rate_from", "rate_to", "name"]
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
                name=None if item.get("name") is None else str(item["name"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDirError(
                f"manifest threshold is malformed: {item!r} ({exc!r})", str(run_dir)
            ) from None
        if threshold.metric not in METRICS:
            raise RunDirError(f"manifest threshold has an unknown metric: {item!r}", str(run_dir))
        out.append(threshold)
    return tuple(out)


def prepare_requests(columns: dict[str, np.ndarray], start_us: int) -> pd.DataFrame:
    """One row per request, numeric and compact, from `analysis.records.read_records`
    columns (consumed: times are turned into offsets in place, so no full-size copy).

    Columns: name (categorical); stage, status (int16); outcome (int8 code in
    `OUTCOMES` order); throttled (bool); offset_us (intended time since the start);
    latency_us (corrected, from the intended time); service_us and lag_us (int32
    uncorrected latency and send lag, `MISSING` for dropped requests); sec, sent_sec,
    done_sec (second of the intended send, of the actual send and of completion; -1
    if none).
    """
    take = columns.pop
    offset = take("intended_us")
    offset -= start_us
    latency = take("latency_us")
    outcome = columns["outcome"]
    sent = take("sent_us")
    was_sent = (sent != MISSING) & (outcome != DROPPED)
    sent -= start_us
    sent -= offset  # now the send lag
    lag = np.where(was_sent, np.clip(sent, MISSING, INT32_MAX), MISSING).astype(np.int32)
    sent += offset
    sent //= 1_000_000
    sent_sec = np.where(was_sent, sent, -1).astype(np.int32)
    del sent, was_sent
    done = offset + latency
    done //= 1_000_000
    done_sec = np.where(outcome != DROPPED, done, -1).astype(np.int32)
    del done
    names = take("names")
    return pd.DataFrame(
        {
            "name": pd.Categorical.from_codes(take("name"), categories=names),
            # method and error text (NaN: no error), for the per-endpoint and failure tables
            "method": pd.Categorical.from_codes(take("method"), categories=take("methods")),
            "error": pd.Categorical.from_codes(take("error"), categories=take("errors")),
            "stage": take("stage"),
            "outcome": outcome,
            "status": take("status"),
            "throttled": take("throttled"),
            "offset_us": offset,
            "latency_us": latency,
            "service_us": take("service_us"),
            "lag_us": lag,
            "sec": (offset // 1_000_000).astype(np.int32),
            "sent_sec": sent_sec,
            "done_sec": done_sec,
        },
        copy=False,
    )


def prepare_health(table: pa.Table, start_us: int) -> pd.DataFrame:
    """Health samples with `sec`: the second of the run each one-second sample covers."""
    frame = table.to_pandas()
    frame["sec"] = (frame["time_us"] - start_us) // 1_000_000 - 1
    return frame.sort_values(["worker", "time_us"], kind="stable").reset_index(drop=True)
