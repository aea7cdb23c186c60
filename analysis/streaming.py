"""The report's aggregates in memory independent of run size: every part streamed once.

`load_run` holds every request in one frame (~100 bytes each: 43 GB for a day at
5,000 req/s). `stream_run` reads the parts one at a time (in record batches) and keeps
only aggregates, exact all the same:

- per group (whole run, stage window, endpoint, endpoint x stage window): outcome
  counts and exact integer-microsecond value histograms (`analysis.histograms`), from
  which nearest-rank percentiles are read: identical to a sort of every request;
- per second (and per request name x second): the rows of a second are kept only
  until no unread part can still hold a request of that second (the *watermark*: parts
  are read in order of their earliest intended send, from the footer statistics, so
  every unread request is at or after the next part's earliest one); then the second is
  summarised exactly (`analysis.metrics.group_summary`) and its rows freed. Memory is
  about one part interval of requests plus the longest latency, whatever the length;
- failures by endpoint, outcome, status, error text and stage; error classes per
  stage window; the send-lag distribution; the whole-run latency histogram.

Runs longer than `PER_SECOND_MAX_S` get a per-minute timeline (`coarsen`): counts add
up, the latency columns keep the WORST second of the minute (a one-second stall stays
visible), the rates are recomputed from the counts.

The tables have the columns (and, per second, the values) of the in-memory report
(tests/analysis/test_streaming.py compares them).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from surge.analysis import records
from surge.analysis.distribution import BINS_PER_DECADE, MIN_LATENCY_US
from surge.analysis.endings import DamagedPart, expected_parts
from surge.analysis.endpoints import endpoint_label
from surge.analysis.histograms import ValueCounts
from surge.analysis.loading import (
    DEFAULT_THROTTLE_PATTERN,
    DEFAULT_THROTTLE_STATUSES,
    stage_frame,
)
from surge.analysis.metrics import COUNT_NAMES, LATENCY_NAMES, US, add_rates, group_summary
from surge.analysis.percentiles import GroupStats
from surge.analysis.records import (
    DROPPED,
    ERROR,
    INT32_MAX,
    MISSING,
    RECORD_COLUMNS,
    TIMEOUT,
    Throttling,
    part_arrays,
)
from surge.analysis.stages import (
    DEFAULT_WARMUP_S,
    ERROR_CLASSES,
    add_windows,
    window_codes,
)
from surge.analysis.timeline import MAX_TIMELINE_S, add_offered, offered_at
from surge.errors import RunDirError
from surge.manifest import Manifest
from surge.results import MANIFEST, REQUESTS_DIR, list_parts, read_manifest

#: rows aggregated at a time: small parts are gathered up to this, big (compacted) ones
#: are decoded in pieces of this size
BATCH_ROWS = 1 << 19
PER_SECOND_MAX_S = 2 * 3600  # longer timelines are per minute
COARSE_S = 60
FINALISE_EVERY = 1 << 20  # pending per-second rows: summarised (when final) beyond this
#: parts decoded in threads ahead of the aggregation (Arrow frees the GIL while decoding)
READ_THREADS = records.READ_THREADS
READ_AHEAD = 4


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
        self.counts.add(groups, rows["outcome"], rows["throttled"])
        self.latency.add(groups, rows["latency"])
        self.service.add(groups, rows["service_us"])

    def derive(self, mapping: np.ndarray, n_groups: int) -> pd.DataFrame:
        """The summary of coarser groups: cell c counts in group `mapping[c]` (-1: none)."""
        cells = self.counts.rows(len(mapping))
        keep = mapping >= 0
        counts = np.zeros((n_groups, cells.shape[1]), np.int64)
        np.add.at(counts, mapping[keep], cells[keep])
        return summary_frame(
            counts,
            self.latency.regroup(mapping).stats(n_groups),
            self.service.regroup(mapping).stats(n_groups),
        )

    def regroup(self, mapping: np.ndarray) -> _Histograms:
        return _Histograms(
            self.counts, self.latency.regroup(mapping), self.service.regroup(mapping)
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

    @property
    def duration_s(self) -> float:
        return float(self.windows["end_s"].max()) if len(self.windows) else 0.0


def _footer(part: Path) -> pq.FileMetaData | str:
    try:
        return pq.read_metadata(part)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return f"unreadable: {str(exc).splitlines()[0][:160]}"


def _part_order(
    every: list[Path], expected: dict[str, int]
) -> tuple[list[Path], list[int], list[pq.FileMetaData], list[DamagedPart]]:
    """Readable parts by their earliest intended send (footer statistics, else the
    column), with their footers (read once, in threads), and the parts whose footer
    cannot be read (as `analysis.endings.check_parts` finds them)."""
    with ThreadPoolExecutor(READ_THREADS) as pool:
        found = list(pool.map(_footer, every))
    damaged = []
    parts, footers = [], []
    for part, footer in zip(every, found, strict=True):
        rel = f"{part.parent.name}/{part.name}"
        if isinstance(footer, str):
            damaged.append(DamagedPart(rel, footer, expected.get(rel)))
        else:
            parts.append(part)
            footers.append(footer)
    firsts = []
    for part, meta in zip(parts, footers, strict=True):
        column = meta.schema.names.index("intended_us")
        lows = []
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(column).statistics
            if stats is None or not stats.has_min_max:
                lows = []
                break
            lows.append(int(stats.min))
        if not lows and meta.num_rows:
            values = pq.read_table(part, columns=["intended_us"])["intended_us"]
            lows = [int(pa.compute.min(values).as_py())]
        firsts.append(min(lows) if lows else 2**62)
    order = sorted(range(len(parts)), key=lambda i: (firsts[i], str(parts[i])))
    ordered = [parts[i] for i in order], [firsts[i] for i in order], [footers[i] for i in order]
    return (*ordered, damaged)


class _Streamer:
    def __init__(self, start_us: int, windows: pd.DataFrame, throttling: Throttling) -> None:
        self.start_us = start_us
        self.windows = windows
        self.n_win = len(windows)
        self.throttling = throttling
        self.names = _Codes()
        self.endpoints = _Codes()
        self.errors = _Codes()
        # one histogram per cell (endpoint, stage window or none): the whole run, the
        # windows and the endpoints are unions of cells, derived at the end
        self.cells = _Histograms()
        self.lag = ValueCounts()
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
        a = part_arrays(table, self.throttling)
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
        self.cells.add(np.where(endpoint >= 0, endpoint * (self.n_win + 1) + slot, -1), rows)
        lag_ok = was_sent & (lag != MISSING)
        self.lag.add(np.zeros(len(lag), np.int64), np.where(lag_ok, np.maximum(lag, 0), MISSING))
        self._failures(frame, endpoint, window, self.errors.lookup(a["errors"])[a["error_codes"]])
        sec = offset // 1_000_000
        sent_sec = np.where(was_sent, (sent_us - self.start_us) // 1_000_000, -1)
        done_sec = np.where(sent_mask, (offset + latency) // 1_000_000, -1)
        self.sent_by_sec = _add_counts(self.sent_by_sec, sent_sec)
        self.done_by_sec = _add_counts(
            self.done_by_sec, np.where((outcome <= 1) & sent_mask, done_sec, -1)
        )
        if len(sec):
            self.max_sec = max(self.max_sec, int(sec.max()))
            self.max_done = max(self.max_done, int(done_sec.max()))
        inside = (sec >= 0) & (sec < MAX_TIMELINE_S)
        self.pending.append(
            {"sec": sec[inside], "name": names[inside], **{k: v[inside] for k, v in rows.items()}}
        )
        self.pending_rows += int(inside.sum())
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
        lookup = np.full(int(present.max()) + 1 if len(present) else 1, -1, np.int64)
        lookup[present] = self.endpoints.lookup(labels)[:-1]
        return lookup[pair]

    def _failures(
        self, frame: pd.DataFrame, endpoint: np.ndarray, window: np.ndarray, error: np.ndarray
    ) -> None:
        outcome = frame["outcome"].to_numpy()
        failed = outcome > 1  # error, timeout, dropped
        if not failed.any():
            return
        part = pd.DataFrame(
            {
                "code": endpoint[failed],
                "outcome": outcome[failed],
                "status": frame["status"].to_numpy()[failed],
                "error": error[failed],
                "stage": frame["stage"].to_numpy()[failed],
                "window": window[failed],
                "offset_us": frame["offset_us"].to_numpy()[failed],
                "throttled": frame["throttled"].to_numpy()[failed],
            }
        )
        self.failures.append(_reduce_failures(part))
        if len(self.failures) > 64:
            self.failures = [_merge_failures(self.failures)]

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
        keys = self.pending[0].keys()
        rows = {k: np.concatenate([p[k] for p in self.pending]) for k in keys}
        done = rows["sec"] < upto
        keep = {k: v[~done] for k, v in rows.items()}
        rows = {k: v[done] for k, v in rows.items()}
        self.pending = [keep] if len(keep["sec"]) else []
        self.pending_rows = len(keep["sec"])
        if len(rows["sec"]):
            self._summarise(rows, int(rows["sec"].min()), int(rows["sec"].max()) + 1)
        self.final_upto = upto

    def _summarise(self, rows: dict[str, np.ndarray], lo: int, hi: int) -> None:
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
        codes = np.where(rows["name"] >= 0, rows["name"] * n + local, -1)
        named = group_summary(view, codes, n * n_names)  # type: ignore[arg-type]
        named.insert(0, "name_id", np.repeat(np.arange(n_names), n))
        named.insert(1, "second", np.tile(np.arange(lo, hi), n_names))
        named = named[named["requests"] > 0]
        if self.resolution > 1:
            total = coarsen(total, self.resolution)
            named = coarsen(named, self.resolution, by=("name_id",))
        self.seconds.append(total.reset_index(drop=True))
        self.by_name.append(named.reset_index(drop=True))


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


FAILURE_KEYS = ["code", "outcome", "status", "error", "stage", "window"]


def _reduce_failures(part: pd.DataFrame) -> pd.DataFrame:
    return part.groupby(FAILURE_KEYS, sort=False).agg(
        count=("offset_us", "size"),
        first_us=("offset_us", "min"),
        last_us=("offset_us", "max"),
        throttled=("throttled", "any"),
    )


def _merge_failures(parts: list[pd.DataFrame]) -> pd.DataFrame:
    both = pd.concat(parts)
    return (
        both.groupby(level=list(range(len(FAILURE_KEYS))), sort=False)
        .agg({"count": "sum", "first_us": "min", "last_us": "max", "throttled": "any"})
        .rename_axis(FAILURE_KEYS)
    )


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
    every = list_parts(run_dir)
    if not every:  # the same errors as `analysis.loading.load_run`
        raise RunDirError(
            "no request parts under requests/: the run recorded nothing", str(run_dir)
        )
    expected = expected_parts(run_dir, manifest)
    parts, firsts, footers, damaged = _part_order(every, expected)
    if len(damaged) >= len(every):
        raise RunDirError(
            "no readable request part: " + "; ".join(d.describe() for d in damaged), str(root)
        )
    present = {f"{p.parent.name}/{p.name}" for p in every}
    damaged += [  # parts a worker wrote (its account, the manifest) that are not here
        DamagedPart(key, "missing", rows)
        for key, rows in sorted(expected.items())
        if key not in present
    ]
    workers = len(manifest.workers) or max(1, len({p.parent.name for p in every}))
    windows = add_windows(stage_frame(manifest.schedule, workers), warmup_s)
    if manifest.started_at is not None:
        start_us = round(manifest.started_at.timestamp() * 1_000_000)
    else:
        start_us = firsts[0] if firsts else 0
    streamer = _Streamer(start_us, windows, Throttling.of(throttle_statuses, throttle_pattern))
    duration = float(windows["end_s"].max()) if len(windows) else 0.0
    resolution = resolution_s or (1 if duration <= PER_SECOND_MAX_S else COARSE_S)
    streamer.resolution = resolution
    buffered: list[pa.Table] = []
    rows = 0
    with ThreadPoolExecutor(READ_THREADS) as pool:
        ahead: collections.deque[Future[Iterable[pa.Table]]] = collections.deque()
        submitted = 0
        for k, part in enumerate(parts):
            while submitted < len(parts) and len(ahead) <= READ_AHEAD:  # decode ahead
                ahead.append(pool.submit(_read_part, parts[submitted], footers[submitted]))
                submitted += 1
            try:
                tables = ahead.popleft().result()
            except (pa.ArrowException, OSError, ValueError) as exc:
                rel = f"{part.parent.name}/{part.name}"
                problem = f"unreadable: {str(exc).splitlines()[0][:160]}"
                damaged.append(DamagedPart(rel, problem, expected.get(rel)))
                tables = ()
            for table in tables:
                buffered.append(table)
                rows += table.num_rows
                if rows >= BATCH_ROWS:
                    streamer.add(pa.concat_tables(buffered))
                    buffered, rows = [], 0
            if buffered and footers[k].num_rows > BATCH_ROWS:  # a big part's remainder
                streamer.add(pa.concat_tables(buffered))
                buffered, rows = [], 0
            if not buffered:  # everything read so far is in the aggregates
                streamer.finalise(firsts[k + 1] if k + 1 < len(parts) else None)
    if buffered:
        streamer.add(pa.concat_tables(buffered))
    streamer.finalise(None, force=True)
    return _result(streamer, run_dir, manifest, workers, damaged, resolution)


def _read_part(part: Path, footer: pq.FileMetaData) -> Iterable[pa.Table]:
    """One part's record columns, decoded whole (a damaged page then skips the whole
    part, never half of it); a big compacted part in `BATCH_ROWS` pieces, which the
    caller aggregates one at a time (`READ_AHEAD` parts at most are held decoded)."""
    file = pq.ParquetFile(part, metadata=footer, pre_buffer=False)
    columns = list(RECORD_COLUMNS)
    missing = sorted(set(columns) - set(footer.schema.names))
    if missing:
        raise ValueError(f"request part does not match the results contract: missing {missing}")
    if file.metadata.num_rows <= BATCH_ROWS:
        return [file.read(columns=columns, use_threads=False)]
    batches = file.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=False)
    return (pa.Table.from_batches([batch]) for batch in batches)  # decoded when aggregated


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
    everything = s.cells.regroup(np.zeros(cells, np.int64))  # the whole run: one group
    whole = summary_frame(
        s.cells.counts.rows(cells).sum(axis=0, keepdims=True),
        everything.latency.stats(1),
        everything.service.stats(1),
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

    failures = _failure_rows(s, position)
    timeline, by_name = _timelines(s, manifest, resolution)
    lag = s.lag.stats(1, (99.0,))
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
        histogram=_histogram(everything),
        send_lag_p99_s=None if lag.counts[0] == 0 else float(lag.percentiles[0, 0]) / 1e6,
        dropped_rate=float(whole["dropped"]) / requests if requests else None,
        damaged=tuple(damaged),
        peak_pending_rows=s.peak_pending,
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
                *FAILURE_KEYS,
                "endpoint",
                "error_text",
                "count",
                "first_us",
                "last_us",
                "throttled",
            ]
        )
    table = _merge_failures(s.failures).reset_index()
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
    corrected, c_counts = h.latency.values_of(0)
    service, s_counts = h.service.values_of(0)
    top = max(int(corrected.max()) if len(corrected) else 1, MIN_LATENCY_US * 10)
    decades = np.log10(top / MIN_LATENCY_US)
    edges = MIN_LATENCY_US * np.logspace(0, decades, int(np.ceil(decades * BINS_PER_DECADE)) + 1)
    edges[-1] = top + 1
    c, _ = np.histogram(np.clip(corrected, MIN_LATENCY_US, None), bins=edges, weights=c_counts)
    u, _ = np.histogram(np.clip(service, MIN_LATENCY_US, None), bins=edges, weights=s_counts)
    return pd.DataFrame(
        {
            "lo_s": edges[:-1] / 1e6,
            "hi_s": edges[1:] / 1e6,
            "corrected": c.astype(np.int64),
            "uncorrected": u.astype(np.int64),
        }
    )


__all__ = ["StreamedRun", "coarsen", "stream_run", "summary_frame"]
