"""The report's aggregates in memory independent of run size: every part streamed once.

`load_run` holds every request in one frame (~100 bytes each: 43 GB for a day at
5,000 req/s). `stream_run` reads the parts a Parquet row group at a time
(`analysis.part_units`: a small part is one, a compacted part many; from S3 with
`analysis.remote_parts`) and keeps only aggregates, exact all the same:

- per cell (endpoint x stage window, or outside every window): outcome counts and
  exact integer-microsecond value histograms (`analysis.histograms`); the whole run,
  the windows, the endpoints and the endpoint-in-stage rows are unions of cells, whose
  nearest-rank percentiles are read from the cells' counts: identical to a sort of
  every request;
- per second (and per request name x second): the rows of a second are kept only
  until no unread row group can still hold a request of that second (the *watermark*:
  row groups are read in order of their earliest intended send, from the footer
  statistics, so every unread request is at or after the next one's earliest); then
  the second is summarised exactly (`analysis.metrics.group_summary`) and its rows
  freed. Memory is about one row group per worker, whatever the run's length;
- failures by endpoint, outcome, status, error text and stage (`analysis.failure_counts`);
  error classes per stage window; the send-lag distribution; the whole-run histogram.

Three kinds of threads share the work: readers decode row groups ahead (Arrow frees the
GIL), this thread turns each batch into codes and counts, and one background thread
sorts the histograms' entries and summarises finished seconds (NumPy sorts free the
GIL too), so the two cores of a small machine both work.

Runs longer than `PER_SECOND_MAX_S` get a per-minute timeline (`coarsen`): counts add
up, the latency columns keep the WORST second of the minute (a one-second stall stays
visible), the rates are recomputed from the counts.

The tables have the columns (and, per second, the values) of the in-memory report
(tests/analysis/test_streaming.py compares them).
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from surge.analysis import failure_counts, histograms, records
from surge.analysis.distribution import BINS_PER_DECADE, MIN_LATENCY_US
from surge.analysis.endings import DamagedPart, expected_parts
from surge.analysis.endpoints import endpoint_label
from surge.analysis.histograms import OneGroupCounts, ValueCounts
from surge.analysis.loading import (
    DEFAULT_THROTTLE_PATTERN,
    DEFAULT_THROTTLE_STATUSES,
    parse_thresholds,
    stage_frame,
)
from surge.analysis.metrics import COUNT_NAMES, LATENCY_NAMES, US, add_rates, group_summary
from surge.analysis.part_units import (
    Unit,
    key_of,
    plan_units,
    problem_of,
    read_unit,
    threads_for,
    worker_of,
)
from surge.analysis.percentiles import GroupStats
from surge.analysis.records import (
    DROPPED,
    ERROR,
    INT32_MAX,
    MISSING,
    TIMEOUT,
    Throttling,
    part_arrays,
)
from surge.analysis.remote_parts import parts_of
from surge.analysis.rule_scope import streamed_rule_rows
from surge.analysis.stages import (
    DEFAULT_WARMUP_S,
    ERROR_CLASSES,
    add_windows,
    window_codes,
)
from surge.analysis.timeline import MAX_TIMELINE_S, add_offered, offered_at
from surge.errors import RunDirError
from surge.manifest import Manifest
from surge.results import MANIFEST, REQUESTS_DIR, read_manifest

#: rows aggregated at a time: small parts' row groups are gathered up to this; a
#: compacted part's row group (~1 M rows) is one batch
BATCH_ROWS = 1 << 19
PER_SECOND_MAX_S = 2 * 3600  # longer timelines are per minute
COARSE_S = 60
FINALISE_EVERY = 1 << 20  # pending per-second rows: summarised (when final) beyond this
SUMMARY_ROWS = 1 << 20  # per-second rows summarised at a time (whole seconds: about)
SUMMARIES_AHEAD = 2  # summaries queued in the background thread at most (memory)
#: parts decoded in threads ahead of the aggregation (Arrow frees the GIL while decoding)
READ_THREADS = records.READ_THREADS
READ_AHEAD = 4
AHEAD_ROWS = 1 << 21  # rows decoded ahead at most (a compacted row group is ~1 M)


class OutcomeCounts:
    """Per group: requests by outcome (`COUNT_NAMES` order) and throttled; groups grow."""

    def __init__(self, n_groups: int = 0) -> None:
        self.table = np.zeros((n_groups, len(COUNT_NAMES) + 1), np.int64)

    def add(self, groups: np.ndarray, outcome: np.ndarray, throttled: np.ndarray) -> None:
        keep = groups >= 0
        g = groups[keep].astype(np.int64)
        if not len(g):
            return
        n = int(g.max()) + 1
        if n > len(self.table):
            grown = np.zeros((max(n, 2 * len(self.table)), self.table.shape[1]), np.int64)
            grown[: len(self.table)] = self.table
            self.table = grown
        width = len(COUNT_NAMES)
        by_outcome = np.bincount(g * width + outcome[keep], minlength=n * width)
        self.table[:n, :width] += by_outcome.reshape(n, width)
        self.table[:n, width] += np.bincount(g[throttled[keep]], minlength=n)

    def rows(self, n_groups: int) -> np.ndarray:
        out = np.zeros((n_groups, self.table.shape[1]), np.int64)
        k = min(n_groups, len(self.table))
        out[:k] = self.table[:k]
        return out


def summary_frame(
    counts: np.ndarray, latency: GroupStats, service: GroupStats | None
) -> pd.DataFrame:
    """`analysis.metrics.group_summary`'s frame from aggregates (same columns, formulas)."""
    out = pd.DataFrame(counts[:, : len(COUNT_NAMES)], columns=list(COUNT_NAMES))
    out["throttled"] = counts[:, len(COUNT_NAMES)]
    out["requests"] = counts[:, : len(COUNT_NAMES)].sum(axis=1)
    out = add_rates(out)
    lat = pd.DataFrame(latency.percentiles / US, columns=list(LATENCY_NAMES))
    n = latency.counts
    lat["avg"] = np.where(n > 0, latency.sums / np.maximum(n, 1) / US, np.nan)
    if service is not None:
        for j, name in enumerate(LATENCY_NAMES):
            lat[f"{name}_uncorrected"] = service.percentiles[:, j] / US
    return pd.concat([out, lat], axis=1)


@dataclass
class _Histograms:
    """Counts and corrected/uncorrected latency histograms of one grouping."""

    counts: OutcomeCounts = field(default_factory=OutcomeCounts)
    latency: ValueCounts = field(default_factory=ValueCounts)
    service: ValueCounts = field(default_factory=ValueCounts)

    def add(self, groups: np.ndarray, rows: dict[str, np.ndarray]) -> None:
        """Count the rows now; their values: `add_values` (the background thread)."""
        self.counts.add(groups, rows["outcome"], rows["throttled"])
        if len(groups) and int(groups.max()) >= histograms.MAX_GROUPS:
            raise histograms.TooManyGroups(f"{int(groups.max()) + 1} endpoint x stage cells")

    def add_values(self, groups: np.ndarray, latency: np.ndarray, service: np.ndarray) -> None:
        keep = groups >= 0
        if not keep.all():
            groups, latency, service = groups[keep], latency[keep], service[keep]
        prefix = histograms.group_prefix(groups)  # packed once for both histograms
        self.latency.add_packed(prefix, latency)
        self.service.add_packed(prefix, service)

    def derive(self, mapping: np.ndarray, n_groups: int) -> pd.DataFrame:
        """The summary of coarser groups: cell c counts in group `mapping[c]` (-1: none)."""
        cells = self.counts.rows(len(mapping))
        keep = mapping >= 0
        counts = np.zeros((n_groups, cells.shape[1]), np.int64)
        np.add.at(counts, mapping[keep], cells[keep])
        return summary_frame(
            counts,
            self.latency.stats(n_groups, mapping=mapping),
            self.service.stats(n_groups, mapping=mapping),
        )


class _Codes:
    """Strings -> run-wide ids in order of first appearance (sorted at the end)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def lookup(self, values: list[Any]) -> np.ndarray:
        """ids for a part's dictionary, plus a trailing -1 for null codes (-1)."""
        out = [self.ids.setdefault(str(v), len(self.ids)) for v in values]
        return np.array([*out, -1], np.int64)

    def labels(self) -> list[str]:
        return list(self.ids)

    def sorted_positions(self) -> np.ndarray:
        """id -> position of its label in sorted order."""
        labels = self.labels()
        order = sorted(range(len(labels)), key=labels.__getitem__)
        out = np.empty(len(labels), np.int64)
        out[order] = np.arange(len(labels))
        return out


@dataclass
class StreamedRun:
    """The streamed aggregates of a run, as the report's tables."""

    run_dir: Path
    manifest: Manifest
    start_us: int
    workers: int
    windows: pd.DataFrame  # `add_windows(stage_frame(...))`
    requests: int
    whole: pd.Series  # group_summary of the whole run (without uncorrected)
    by_window: pd.DataFrame  # group_summary per stage window (uncorrected beside)
    breakdown: pd.DataFrame  # error_breakdown: window, error_class, status, count
    endpoints: tuple[str, ...]  # sorted endpoint labels
    by_endpoint: pd.DataFrame  # group_summary per endpoint (uncorrected), sorted labels
    by_endpoint_window: pd.DataFrame  # window, endpoint + group_summary, requests > 0
    failures: pd.DataFrame  # endpoint, outcome, status, error, stage, window + aggregates
    timeline: pd.DataFrame  # per_second's columns (per `resolution_s`)
    timeline_by_name: pd.DataFrame  # per_second_by_name's columns
    resolution_s: int
    histogram: pd.DataFrame  # latency_histogram's columns
    send_lag_p99_s: float | None
    dropped_rate: float | None
    damaged: tuple[DamagedPart, ...] = ()
    peak_pending_rows: int = 0  # the most per-second rows held at once (bounded memory)
    #: scoped rules naming several endpoints (a bare `/x`): `analysis.rule_scope` rows
    by_rule: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def duration_s(self) -> float:
        return float(self.windows["end_s"].max()) if len(self.windows) else 0.0


class _Streamer:
    def __init__(self, start_us: int, windows: pd.DataFrame, throttling: Throttling) -> None:
        self.start_us = start_us
        self.windows = windows
        self.n_win = len(windows)
        self.throttling = throttling
        self.names = _Codes()
        self.endpoints = _Codes()
        self.endpoint_names: dict[str, set[str]] = {}  # label -> request names (rule_scope)
        self.errors = _Codes()
        # one histogram per cell (endpoint, stage window or none): the whole run, the
        # windows and the endpoints are unions of cells, derived at the end
        # merges and per-second summaries run in this one thread while the caller
        # aggregates the next batch: NumPy sorts and ufuncs free the GIL
        self.background = ThreadPoolExecutor(1)
        self.cells = _Histograms()
        self.values: collections.deque[Future[None]] = collections.deque()  # value batches
        self.summaries: collections.deque[Future[tuple[pd.DataFrame, pd.DataFrame]]] = (
            collections.deque()
        )
        self.lag = OneGroupCounts()
        self.sent_by_sec = np.zeros(0, np.int64)
        self.done_by_sec = np.zeros(0, np.int64)
        self.max_sec = -1
        self.max_done = -1
        self.failures: list[pd.DataFrame] = []
        self.pending: list[dict[str, np.ndarray]] = []
        self.pending_rows = 0
        self.peak_pending = 0
        self.final_upto = 0  # seconds below this are summarised
        self.resolution = 1
        self.seconds: list[pd.DataFrame] = []
        self.by_name: list[pd.DataFrame] = []

    # --- one batch -------------------------------------------------------------------
    def add(self, table: pa.Table) -> None:
        self.add_arrays(part_arrays(table, self.throttling))

    def add_arrays(self, a: dict[str, Any]) -> None:
        """One batch, as `analysis.records.part_arrays` gives it."""
        outcome = a["outcome"]
        sent_mask = outcome != DROPPED
        offset = a["intended_us"] - self.start_us
        latency = a["latency_us"]
        sent_us = a["sent_us"]
        was_sent = (sent_us != MISSING) & sent_mask
        lag = np.clip(sent_us - a["intended_us"], MISSING, INT32_MAX)
        names = self.names.lookup(a["names"])[a["name_codes"]]
        endpoint = self._endpoint_codes(a)
        rows = {
            "outcome": outcome,
            "throttled": a["throttled"],
            "latency": np.where(sent_mask, latency, MISSING),
            "service_us": a["service_us"],
        }
        frame = pd.DataFrame(
            {
                "stage": a["stage"],
                "offset_us": offset,
                "outcome": outcome,
                "status": a["status"],
                "throttled": a["throttled"],
            },
            copy=False,
        )
        window = window_codes(frame, self.windows).astype(np.int64)
        slot = np.where(window >= 0, window, self.n_win)  # n_win: outside every window
        cells = np.where(endpoint >= 0, endpoint * (self.n_win + 1) + slot, -1)
        self.cells.add(cells, rows)
        lag_ok = was_sent & (lag != MISSING)
        self._later(
            self._add_values,
            cells,
            rows["latency"],
            rows["service_us"],
            np.where(lag_ok, np.maximum(lag, 0), -1),
        )
        self._failures(frame, endpoint, window, self.errors.lookup(a["errors"])[a["error_codes"]])
        sec = offset // 1_000_000
        sent_sec = np.where(was_sent, (sent_us - self.start_us) // 1_000_000, -1)
        done_sec = np.where(sent_mask, (offset + latency) // 1_000_000, -1)
        answered_sec = np.where((outcome <= 1) & sent_mask, done_sec, -1)
        self._later(self._add_throughput, sent_sec, answered_sec)
        if len(sec):
            self.max_sec = max(self.max_sec, int(sec.max()))
            self.max_done = max(self.max_done, int(done_sec.max()))
        inside = (sec >= 0) & (sec < MAX_TIMELINE_S)
        pending = {
            "sec": sec[inside].astype(np.int32),  # held until final: kept small
            "name": names[inside].astype(np.int32),
            **{k: v[inside] for k, v in rows.items()},
        }
        if np.any(pending["sec"][1:] < pending["sec"][:-1]):  # by second: `finalise` slices
            order = np.argsort(pending["sec"], kind="stable")
            pending = {k: v[order] for k, v in pending.items()}
        self.pending.append(pending)
        self.pending_rows += len(pending["sec"])
        self.peak_pending = max(self.peak_pending, self.pending_rows)

    def _endpoint_codes(self, a: dict[str, Any]) -> np.ndarray:
        """Run-wide endpoint ids (`endpoint_label` of method and name) per row."""
        methods, names = a["methods"], a["names"]
        width = len(names)
        pair = (a["method_codes"].astype(np.int64) + 1) * width + a["name_codes"]
        present = np.flatnonzero(np.bincount(pair)) if len(pair) else np.zeros(0, np.int64)
        labels = [
            endpoint_label(methods[p // width - 1] if p >= width else "", str(names[p % width]))
            for p in present.tolist()
        ]  # only pairs with rows: an endpoint is listed only when it has requests
        for p, label in zip(present.tolist(), labels, strict=True):
            self.endpoint_names.setdefault(label, set()).add(str(names[p % width]))
        lookup = np.full(int(present.max()) + 1 if len(present) else 1, -1, np.int64)
        lookup[present] = self.endpoints.lookup(labels)[:-1]
        return lookup[pair]

    def _failures(
        self, frame: pd.DataFrame, endpoint: np.ndarray, window: np.ndarray, error: np.ndarray
    ) -> None:
        outcome = frame["outcome"].to_numpy()
        failed = np.flatnonzero(outcome > 1)  # error, timeout, dropped
        if not len(failed):
            return
        columns = {
            "code": endpoint[failed],
            "outcome": outcome[failed],
            "status": frame["status"].to_numpy()[failed],
            "error": error[failed],
            "stage": frame["stage"].to_numpy()[failed],
            "window": window[failed],
        }
        offset = frame["offset_us"].to_numpy()[failed]
        throttled = frame["throttled"].to_numpy()[failed]
        self.failures.append(failure_counts.reduce(columns, offset, throttled))
        if len(self.failures) > 64:
            self.failures = [failure_counts.merge(self.failures)]

    # --- per second --------------------------------------------------------------------
    def finalise(self, watermark_us: int | None, force: bool = False) -> None:
        """Summarise the seconds no unread part can touch (all with `watermark_us` None)."""
        if not force and self.pending_rows < FINALISE_EVERY and watermark_us is not None:
            return
        if watermark_us is None:
            upto = MAX_TIMELINE_S
        else:
            upto = (watermark_us - self.start_us) // 1_000_000
            upto = (upto // self.resolution) * self.resolution
        if upto <= self.final_upto or not self.pending:
            return
        if upto >= MAX_TIMELINE_S:  # everything: up to the last pending second
            top = (
                max(int(b["sec"][-1]) for b in self.pending if len(b["sec"]))
                if self.pending_rows
                else 0
            )
            upto = min(upto, (top // self.resolution + 1) * self.resolution)
        lo = self.final_upto - self.final_upto % self.resolution
        cuts = np.arange(lo, upto + self.resolution, self.resolution)
        cuts[-1] = upto
        before = sum(np.searchsorted(b["sec"], cuts) for b in self.pending)  # rows below a cut
        chosen, last = [lo], 0
        for k in range(1, len(cuts)):  # whole buckets, about SUMMARY_ROWS rows each
            if before[k] - before[last] >= SUMMARY_ROWS or k == len(cuts) - 1:
                if before[k] > before[last]:
                    chosen.append(int(cuts[k]))
                last = k
        for a, b in itertools.pairwise(chosen):
            pieces = []
            for batch in self.pending:
                i, j = np.searchsorted(batch["sec"], [a, b])
                if j > i:
                    pieces.append({k: v[i:j] for k, v in batch.items()})
            if pieces:
                rows = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
                self._summarise_later(rows, a, b)
        kept = []
        for batch in self.pending:
            cut = int(np.searchsorted(batch["sec"], upto))
            if cut < len(batch["sec"]):  # a small rest is copied, so the batch is freed
                kept.append(
                    {k: v[cut:].copy() if 2 * cut > len(v) else v[cut:] for k, v in batch.items()}
                )
        self.pending = kept
        self.pending_rows = sum(len(b["sec"]) for b in kept)
        self.final_upto = upto

    def _later(self, work: Callable[..., None], *arrays: np.ndarray) -> None:
        """`work(*arrays)` in the background thread (value histograms, throughput per
        second: the batch's arrays are never written again); a few queued at most."""
        while len(self.values) >= 2 * SUMMARIES_AHEAD:
            self.values.popleft().result()
        self.values.append(self.background.submit(work, *arrays))

    def _add_values(
        self, cells: np.ndarray, latency: np.ndarray, service: np.ndarray, lag: np.ndarray
    ) -> None:
        self.cells.add_values(cells, latency, service)
        self.lag.add(lag)

    def _add_throughput(self, sent_sec: np.ndarray, answered_sec: np.ndarray) -> None:
        self.sent_by_sec = _add_counts(self.sent_by_sec, sent_sec)
        self.done_by_sec = _add_counts(self.done_by_sec, answered_sec)

    def _summarise_later(self, rows: dict[str, np.ndarray], lo: int, hi: int) -> None:
        """Summarise seconds lo..hi-1 in the background thread (a few queued at most)."""
        while len(self.summaries) >= SUMMARIES_AHEAD:
            self._collect(self.summaries.popleft())
        self.summaries.append(self.background.submit(self._summarise, rows, lo, hi))

    def _collect(self, done: Future[tuple[pd.DataFrame, pd.DataFrame]]) -> None:
        total, named = done.result()
        self.seconds.append(total)
        self.by_name.append(named)

    def drain(self) -> None:
        """Wait for the background work; the aggregates are then complete."""
        while self.summaries:
            self._collect(self.summaries.popleft())
        while self.values:
            self.values.popleft().result()

    def _summarise(
        self, rows: dict[str, np.ndarray], lo: int, hi: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        lo -= lo % self.resolution
        n = hi - lo
        view = SimpleNamespace(
            requests=pd.DataFrame(
                {
                    "outcome": rows["outcome"],
                    "throttled": rows["throttled"],
                    "service_us": rows["service_us"],
                },
                copy=False,
            ),
            sent_latency=rows["latency"],
        )
        local = (rows["sec"] - lo).astype(np.int64)
        total = group_summary(view, local, n, uncorrected=True)  # type: ignore[arg-type]
        total.insert(0, "second", np.arange(lo, hi))
        total = total[total["requests"] > 0]
        n_names = int(rows["name"].max()) + 1 if len(rows["name"]) else 0
        codes = np.where(rows["name"] >= 0, rows["name"].astype(np.int64) * n + local, -1)
        named = group_summary(view, codes, n * n_names)  # type: ignore[arg-type]
        named.insert(0, "name_id", np.repeat(np.arange(n_names), n))
        named.insert(1, "second", np.tile(np.arange(lo, hi), n_names))
        named = named[named["requests"] > 0]
        if self.resolution > 1:
            total = coarsen(total, self.resolution)
            named = coarsen(named, self.resolution, by=("name_id",))
        return total.reset_index(drop=True), named.reset_index(drop=True)


def _add_counts(counts: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    inside = seconds[(seconds >= 0) & (seconds < MAX_TIMELINE_S)]
    if not len(inside):
        return counts
    more = np.bincount(inside)
    if len(more) > len(counts):
        more[: len(counts)] += counts
        return more
    counts[: len(more)] += more
    return counts


LATENCY_COLUMNS = (*LATENCY_NAMES, *(f"{n}_uncorrected" for n in LATENCY_NAMES))


def coarsen(table: pd.DataFrame, seconds: int, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per-second rows -> one row per `seconds` (and per `by`): counts add up, latency
    columns keep the worst second (max of the per-second values), `avg` is weighted by
    the sent requests, rates are recomputed, throughput columns (`sent`, `achieved`,
    `offered_rps`) become the mean per second. `second` is the bucket's first second."""
    if not len(table):
        return table
    sent = table["requests"] - table["dropped"]
    work = table.assign(
        second=table["second"] // seconds * seconds,
        _latency_sum=table["avg"].fillna(0) * sent,
        _sent=sent,
    )
    keys = [*by, "second"]
    sums = [*COUNT_NAMES, "throttled", "requests", "_latency_sum", "_sent"]
    worst = [c for c in LATENCY_COLUMNS if c in table]
    means = [c for c in ("offered_rps", "sent", "achieved") if c in table]
    agg = {**{c: "sum" for c in sums}, **{c: "max" for c in worst}}
    grouped = work.groupby(keys, sort=True).agg(agg).reset_index()
    for c in means:  # per-second means over the whole bucket (seconds without rows: 0)
        grouped[c] = work.groupby(keys, sort=True)[c].sum().to_numpy() / seconds
    grouped["avg"] = np.where(
        grouped["_sent"] > 0, grouped["_latency_sum"] / grouped["_sent"].clip(lower=1), np.nan
    )
    counts = add_rates(grouped.drop(columns=["_latency_sum", "_sent"]))
    return counts[[c for c in table.columns if c in counts]]


def stream_run(
    run_dir: str | Path,
    *,
    warmup_s: float = DEFAULT_WARMUP_S,
    throttle_statuses: Collection[int] = DEFAULT_THROTTLE_STATUSES,
    throttle_pattern: str = DEFAULT_THROTTLE_PATTERN,
    resolution_s: int | None = None,
) -> StreamedRun:
    """Stream every readable part of `run_dir` into the report's aggregates."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if not isinstance(manifest.schedule.get("stages"), list):
        raise RunDirError("manifest.json has no schedule with stages", str(run_dir / MANIFEST))
    root = run_dir / REQUESTS_DIR
    every = parts_of(run_dir)  # `list_parts`, or the run's parts in S3
    if not every:  # the same errors as `analysis.loading.load_run`
        raise RunDirError(
            "no request parts under requests/: the run recorded nothing", str(run_dir)
        )
    expected = expected_parts(run_dir, manifest)
    units, damaged = plan_units(every, expected)
    if len(damaged) >= len(every):
        raise RunDirError(
            "no readable request part: " + "; ".join(d.describe() for d in damaged), str(root)
        )
    present = {key_of(p) for p in every}
    damaged += [  # parts a worker wrote (its account, the manifest) that are not here
        DamagedPart(key, "missing", rows)
        for key, rows in sorted(expected.items())
        if key not in present
    ]
    workers = len(manifest.workers) or max(1, len({worker_of(p) for p in every}))
    windows = add_windows(stage_frame(manifest.schedule, workers), warmup_s)
    if manifest.started_at is not None:
        start_us = round(manifest.started_at.timestamp() * 1_000_000)
    else:
        start_us = units[0].first_us if units else 0
    streamer = _Streamer(start_us, windows, Throttling.of(throttle_statuses, throttle_pattern))
    duration = float(windows["end_s"].max()) if len(windows) else 0.0
    resolution = resolution_s or (1 if duration <= PER_SECOND_MAX_S else COARSE_S)
    streamer.resolution = resolution
    try:
        _stream_units(streamer, units, damaged, expected)
        return _result(streamer, run_dir, manifest, workers, damaged, resolution)
    finally:
        streamer.background.shutdown(wait=True)


def _stream_units(
    streamer: _Streamer, units: list[Unit], damaged: list[DamagedPart], expected: dict[str, int]
) -> None:
    """Every unit into the aggregates, in order; reader threads decode up to
    `READ_AHEAD` units (at most `AHEAD_ROWS` rows) ahead while this thread aggregates.
    A part whose row group cannot be decoded is named damaged and its later row groups
    skipped (a small part is one row group: all of it or nothing)."""
    buffered: list[pa.Table] = []
    rows = 0
    broken: set[Any] = set()

    def decode(unit: Unit) -> pa.Table | dict[str, Any]:
        """A unit's table; a big one (a compacted row group) already turned into
        arrays here, in the reader thread, beside the aggregation of the previous one."""
        table = read_unit(unit)
        return part_arrays(table, streamer.throttling) if unit.rows >= BATCH_ROWS else table

    with ThreadPoolExecutor(threads_for([u.part for u in units[:1]])) as pool:
        ahead: collections.deque[tuple[Future[pa.Table | dict[str, Any]], int]] = (
            collections.deque()
        )
        ahead_rows = submitted = 0
        for k, unit in enumerate(units):
            while submitted < len(units) and (
                not ahead or (len(ahead) < READ_AHEAD and ahead_rows < AHEAD_ROWS)
            ):
                nxt = units[submitted]
                ahead.append((pool.submit(decode, nxt), nxt.rows))
                ahead_rows += nxt.rows
                submitted += 1
            future, n = ahead.popleft()
            ahead_rows -= n
            try:
                decoded = future.result()
            except (pa.ArrowException, OSError, ValueError) as exc:
                if unit.part not in broken:
                    damaged.append(DamagedPart(unit.key, problem_of(exc), expected.get(unit.key)))
                broken.add(unit.part)
            else:
                if unit.part in broken:
                    pass
                elif isinstance(decoded, dict):  # a whole batch: what is buffered first
                    if buffered:
                        streamer.add(pa.concat_tables(buffered))
                        buffered, rows = [], 0
                    streamer.add_arrays(decoded)
                else:
                    buffered.append(decoded)
                    rows += decoded.num_rows
            if rows >= BATCH_ROWS:
                streamer.add(pa.concat_tables(buffered) if len(buffered) > 1 else buffered[0])
                buffered, rows = [], 0
            if not buffered:  # everything read so far is in the aggregates
                streamer.finalise(units[k + 1].first_us if k + 1 < len(units) else None)
    if buffered:
        streamer.add(pa.concat_tables(buffered))
    streamer.finalise(None, force=True)
    streamer.drain()


def _result(
    s: _Streamer,
    run_dir: Path,
    manifest: Manifest,
    workers: int,
    damaged: list[DamagedPart],
    resolution: int,
) -> StreamedRun:
    n_win = s.n_win
    endpoint_labels = s.endpoints.labels()
    position = s.endpoints.sorted_positions()
    n_end = len(endpoint_labels)
    sorted_labels = tuple(sorted(endpoint_labels))

    cells = n_end * (n_win + 1)
    endpoint_of = np.arange(cells) // (n_win + 1)
    window_of = np.arange(cells) % (n_win + 1)
    outside = window_of == n_win
    service = s.background.submit(s.cells.service.prepare)  # its last sort beside the
    s.cells.latency.prepare()  # latency's (NumPy sorts free the GIL)
    service.result()
    everything = np.zeros(cells, np.int64)  # the whole run: one group
    whole = summary_frame(
        s.cells.counts.rows(cells).sum(axis=0, keepdims=True),
        s.cells.latency.stats(1, mapping=everything),
        s.cells.service.stats(1, mapping=everything),
    )
    whole = whole.drop(columns=[c for c in whole if c.endswith("_uncorrected")]).iloc[0]
    by_window = s.cells.derive(np.where(outside, -1, window_of), n_win)
    by_endpoint = s.cells.derive(position[endpoint_of] if n_end else endpoint_of, n_end)
    pair_codes = np.where(outside, -1, endpoint_of * n_win + window_of)
    pairs = s.cells.derive(pair_codes, n_end * n_win)
    codes = np.arange(n_end * n_win)
    pairs.insert(0, "window", codes % n_win if n_win else codes)
    pairs.insert(1, "endpoint", np.asarray(endpoint_labels, dtype=object)[codes // max(n_win, 1)])
    pairs["_order"] = position[codes // max(n_win, 1)] if n_end else codes
    pairs = pairs[pairs["requests"] > 0].sort_values(["window", "_order"], kind="stable")
    pairs = pairs.drop(columns="_order").reset_index(drop=True)

    thresholds = parse_thresholds(manifest.schedule.get("thresholds") or [], run_dir)
    by_rule = streamed_rule_rows(  # bare-name rules: their endpoints' cells merged
        thresholds, endpoint_labels, s.endpoint_names, n_win, s.cells.derive
    )
    failures = _failure_rows(s, position)
    timeline, by_name = _timelines(s, manifest, resolution)
    lag = s.lag.stats((99.0,))
    requests = int(whole["requests"])
    return StreamedRun(
        run_dir=run_dir,
        manifest=manifest,
        start_us=s.start_us,
        workers=workers,
        windows=s.windows,
        requests=requests,
        whole=whole,
        by_window=by_window,
        breakdown=_breakdown(failures),
        endpoints=sorted_labels,
        by_endpoint=by_endpoint,
        by_endpoint_window=pairs,
        failures=failures,
        timeline=timeline,
        timeline_by_name=by_name,
        resolution_s=resolution,
        histogram=_histogram(s.cells),
        send_lag_p99_s=None if lag.counts[0] == 0 else float(lag.percentiles[0, 0]) / 1e6,
        dropped_rate=float(whole["dropped"]) / requests if requests else None,
        damaged=tuple(damaged),
        peak_pending_rows=s.peak_pending,
        by_rule=by_rule,
    )


def _breakdown(failures: pd.DataFrame) -> pd.DataFrame:
    """`analysis.stages.error_breakdown` (window, error_class, status, count) from the
    failure aggregates: throttling is decided by outcome, status and error text, which
    are keys there, so each key's rows are all throttled or none."""
    rows = failures[(failures["window"] >= 0) & failures["outcome"].isin((ERROR, TIMEOUT))]
    status = rows["status"].to_numpy()
    klass = np.select(
        [
            rows["throttled"].to_numpy(dtype=bool),
            rows["outcome"].to_numpy() == TIMEOUT,
            status < 100,
            status < 500,
        ],
        [0, 1, 2, 3],
        4,
    )  # positions in ERROR_CLASSES, as error_breakdown numbers them
    names = np.array([c.value for c in ERROR_CLASSES], dtype=object)
    table = pd.DataFrame(
        {
            "window": rows["window"].to_numpy(),
            "error_class": names[klass],
            "status": status,
            "count": rows["count"].to_numpy(),
        }
    )
    return (
        table.groupby(["window", "error_class", "status"]).agg(count=("count", "sum")).reset_index()
    )


def _failure_rows(s: _Streamer, position: np.ndarray) -> pd.DataFrame:
    """One row per (endpoint, outcome, status, error text, stage, window) with failures:
    count, first/last intended send (us from the start), any throttled."""
    if not s.failures:
        return pd.DataFrame(
            columns=[
                *failure_counts.KEYS,
                "endpoint",
                "error_text",
                "count",
                "first_us",
                "last_us",
                "throttled",
            ]
        )
    table = failure_counts.merge(s.failures).reset_index()
    labels = np.asarray(s.endpoints.labels(), dtype=object)
    errors = np.asarray([*s.errors.labels(), None], dtype=object)
    return table.assign(
        endpoint=labels[table["code"].to_numpy()],
        error_text=errors[table["error"].to_numpy()],  # -1: no text
        code=position[table["code"].to_numpy()],
    )


def _timelines(
    s: _Streamer, manifest: Manifest, resolution: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    duration = float(s.windows["end_s"].max()) if len(s.windows) else 0.0
    n = max(math.ceil(duration), s.max_sec + 1, s.max_done + 1, 1)
    n = int(min(n, MAX_TIMELINE_S))
    names = s.names.labels()
    # seconds without requests: the rows the in-memory timeline has (zeros, NaN)
    empty = summary_frame(
        np.zeros((n, len(COUNT_NAMES) + 1), np.int64),
        GroupStats(np.zeros(n, np.int64), np.zeros(n), np.full((n, len(LATENCY_NAMES)), np.nan)),
        GroupStats(np.zeros(n, np.int64), np.zeros(n), np.full((n, len(LATENCY_NAMES)), np.nan)),
    )
    empty.insert(0, "second", np.arange(n))
    if resolution > 1:
        empty = coarsen(empty, resolution)
    rows = pd.concat([*s.seconds], ignore_index=True) if s.seconds else empty.iloc[:0]
    rows = rows[rows["second"] < n]
    timeline = empty.set_index("second")
    timeline.update(rows.set_index("second"))  # type: ignore[arg-type]
    timeline = timeline.reset_index()
    for c in (*COUNT_NAMES, "throttled", "requests"):
        timeline[c] = timeline[c].astype(np.int64)
    throughput = pd.DataFrame(
        {
            "sent": _per_second(s.sent_by_sec, n),
            "achieved": _per_second(s.done_by_sec, n),
            "second": np.arange(n),
        }
    )
    if resolution > 1:
        throughput = (
            throughput.assign(second=throughput["second"] // resolution * resolution)
            .groupby("second")
            .sum()
            .reset_index()
        )
        throughput[["sent", "achieved"]] = throughput[["sent", "achieved"]] / resolution
    timeline = timeline.merge(throughput, on="second", how="left")
    timeline = (
        add_offered(timeline, s.windows)
        if resolution == 1
        else _offered_mean(timeline, s.windows, resolution, n)
    )
    first = ["second", "offered_rps", "requests", "sent", "achieved"]
    timeline = timeline[first + [c for c in timeline.columns if c not in first]]

    by_name = pd.concat(s.by_name, ignore_index=True) if s.by_name else pd.DataFrame()
    if len(by_name):
        label = np.asarray(names, dtype=object)[by_name["name_id"].to_numpy()]
        by_name = by_name.assign(name=label).drop(columns="name_id")
        by_name = by_name[by_name["second"] < n].sort_values(["name", "second"], kind="stable")
        by_name = by_name[["name", *[c for c in by_name.columns if c != "name"]]]
    return timeline, by_name.reset_index(drop=True)


def _offered_mean(table: pd.DataFrame, stages: pd.DataFrame, seconds: int, n: int) -> pd.DataFrame:
    rate = offered_at(stages, np.arange(n) + 0.5)
    buckets = np.arange(n) // seconds
    mean = np.bincount(buckets, weights=rate) / seconds
    return table.assign(offered_rps=mean[table["second"].to_numpy() // seconds])


def _per_second(counts: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.int64)
    k = min(n, len(counts))
    out[:k] = counts[:k]
    return out


def _histogram(h: _Histograms) -> pd.DataFrame:
    """`analysis.distribution.latency_histogram` from the whole run's value counts."""
    top = max(h.latency.max_value() or 1, MIN_LATENCY_US * 10)
    decades = np.log10(top / MIN_LATENCY_US)
    edges = MIN_LATENCY_US * np.logspace(0, decades, int(np.ceil(decades * BINS_PER_DECADE)) + 1)
    edges[-1] = top + 1
    c = h.latency.binned(edges)  # values below the first edge count in the first bin
    u = h.service.binned(edges)  # (latency_histogram clips them up to it)
    return pd.DataFrame(
        {
            "lo_s": edges[:-1] / 1e6,
            "hi_s": edges[1:] / 1e6,
            "corrected": c.astype(np.int64),
            "uncorrected": u.astype(np.int64),
        }
    )


__all__ = ["StreamedRun", "coarsen", "stream_run", "summary_frame"]
