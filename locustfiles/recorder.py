"""Every request of a worker, in columns, flushed to Parquet parts off the hot path.

The hot path (Locust's ``request`` event, fired by the user class's own client) only
appends plain values to per-column arrays: numbers go into ``array`` columns (machine
integers, no Python object kept per value), strings into lists of the same few shared
objects (names, outcomes). Once a second the sampler summarises the rows added since
the last tick with numpy on those buffers (latency histograms, outcome counts); every
`FLUSH_INTERVAL_S` the columns are swapped for empty ones and the full batch is
written by a thread of gevent's threadpool through `surge.results.write_part` (temp
file + rename), so a crash loses at most the last interval. `warm_up` builds one empty
part in memory before the run, so the lazy imports pyarrow does on first use (pandas
among them) do not hold the interpreter lock in the middle of a run.

Locust's own statistics are left to Locust: they see each request exactly as the
client reported it, i.e. the *uncorrected* service time. surge's records carry both
``latency_us`` (from the intended send time, corrected) and ``service_us``.
"""

from __future__ import annotations

import logging
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import numpy as np
from locust.exception import CatchResponseError

from surge.locustfiles.context import CURRENT_ARRIVAL, OUTCOME_OVERRIDE
from surge.locustfiles.endpoints import EndpointNames, summarise
from surge.locustfiles.error_types import DROPPED_LATE, record_error
from surge.locustfiles.histogram import bucket_counts
from surge.locustfiles.http_response import HTTPStatusError
from surge.locustfiles.part_ledger import PartLedger
from surge.results import Outcome, requests_table, write_part

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 5.0  # the contract asks for at most 10 s of loss on a crash
#: column -> array typecode for numbers; None: a list (strings, shared objects)
COLUMN_TYPES: dict[str, str | None] = {
    "name": None, "method": None, "stage": "h", "intended_us": "q", "sent_us": "q",
    "latency_us": "q", "service_us": "q", "status": "h", "outcome": None, "bytes": "i",
    "error": None,
}  # fmt: skip
NOT_SENT = -1  # sent_us / service_us of a dropped request (null in the Parquet part)
_OK, _REJECTED, _ERROR, _TIMEOUT, _DROPPED = (o.value for o in Outcome)
TIMEOUT_STATUSES = frozenset((408, 504))  # answers that say a timeout happened


def classify(exception: BaseException | None) -> str:
    """Locust's view of a request as a surge outcome: failure -> error, timeouts -> timeout."""
    if exception is None:
        return _OK
    if isinstance(exception, HTTPStatusError):  # an answer: its text is the server's words
        return _TIMEOUT if exception.status in TIMEOUT_STATUSES else _ERROR
    if isinstance(exception, TimeoutError | gevent.Timeout):
        return _TIMEOUT
    text = str(exception).lower()
    if "timed out" in text or "timeout" in text:
        return _TIMEOUT
    return _ERROR


class Recorder:
    """Column batches of one worker process and their Parquet parts.

    Attributes:
        run_dir: the run directory parts go to (``requests/worker=<worker_id>/``).
        worker_id: the worker's name in the records and the part directory.
        current_stage: stage stamped on requests made outside an arrival (on_start etc.).
    """

    def __init__(self, *, run_dir: Path, worker_id: str) -> None:
        self.run_dir = Path(run_dir)
        self.worker_id = worker_id
        self.current_stage = 0
        self._cols = _empty_columns()
        self._mark = 0  # rows already summarised by `sample`
        self._seq = 0
        self._carry: dict[str, Any] | None = None  # summary of flushed, unreported rows
        self.ledger = PartLedger(run_dir=self.run_dir, worker_id=worker_id, write=_write_batch)
        self.rows_written = 0
        self.totals: Counter[str] = Counter()
        self._endpoint_labels = EndpointNames()  # bounded names for the per-endpoint figures

    # ------------------------------------------------------------------ hot path
    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: BaseException | None = None,
        start_time: float | None = None,
        response: Any = None,
        **_kwargs: Any,
    ) -> None:
        """Listener for Locust's ``request`` event: one row per request, no I/O."""
        rt_s = (response_time or 0.0) / 1000.0
        sent = start_time if start_time is not None else time.time() - rt_s
        done = sent + rt_s
        arrival = CURRENT_ARRIVAL.get()
        if arrival is not None and arrival.first_pending:
            arrival.first_pending = False
            intended, stage = arrival.intended, arrival.stage
        else:
            intended = sent
            stage = arrival.stage if arrival is not None else self.current_stage
        override = OUTCOME_OVERRIDE.get()
        if override is not None:
            OUTCOME_OVERRIDE.set(None)
            outcome = override.value
        else:
            outcome = classify(exception)
        status = getattr(response, "status_code", 0) or 0
        c = self._cols
        c["name"].append(name)
        c["method"].append(request_type)
        c["stage"].append(stage)
        c["intended_us"].append(int(intended * 1e6))
        c["sent_us"].append(int(sent * 1e6))
        c["latency_us"].append(int((done - intended) * 1e6))
        c["service_us"].append(int(rt_s * 1e6))
        c["status"].append(status if 0 <= status < 32768 else 0)
        c["outcome"].append(outcome)
        c["bytes"].append(min(int(response_length or 0), 2**31 - 1))
        c["error"].append(None if exception is None else record_error(
            exception, response, scenario_failure=isinstance(exception, CatchResponseError)
        ))  # fmt: skip

    def record_dropped(
        self, name: str, intended: float, stage: int, now: float, reason: str = DROPPED_LATE
    ) -> None:
        """A request that was never sent: no slot came free in time, or the run stopped."""
        c = self._cols
        c["name"].append(name)
        c["method"].append("")
        c["stage"].append(stage)
        c["intended_us"].append(int(intended * 1e6))
        c["sent_us"].append(NOT_SENT)
        c["latency_us"].append(int((now - intended) * 1e6))
        c["service_us"].append(NOT_SENT)
        c["status"].append(0)
        c["outcome"].append(_DROPPED)
        c["bytes"].append(0)
        c["error"].append(reason)

    # ------------------------------------------------------------------ once a second
    def sample(self) -> dict[str, Any]:
        """Summary of the rows not yet reported, including rows a flush summarised (the
        flush swaps the columns out: its summary waits here for the next report, so the
        master's totals count every row of every part)."""
        summary = self._sample_new()
        if self._carry is not None:
            summary, self._carry = add_summaries(self._carry, summary), None
        return summary

    def _sample_new(self) -> dict[str, Any]:
        """Summarise rows added since the last call: histograms and outcome counts."""
        c = self._cols
        end = len(c["outcome"])
        start, self._mark = self._mark, end
        outcomes = Counter(c["outcome"][start:end])
        self.totals.update(outcomes)
        all_svc = np.frombuffer(c["service_us"], np.int64)[start:end]
        all_lat = np.frombuffer(c["latency_us"], np.int64)[start:end]
        sent = all_svc != NOT_SENT
        lat, svc = all_lat[sent], all_svc[sent]
        status = np.frombuffer(c["status"], np.int16)[start:end]
        return {
            "outcomes": dict(outcomes),
            "hist_corrected": bucket_counts(lat),
            "hist_uncorrected": bucket_counts(svc),
            "endpoints": summarise(
                c["name"][start:end],
                c["outcome"][start:end],
                status,
                c["error"][start:end],
                all_lat,
                all_svc,
                self._endpoint_labels,
                methods=c["method"][start:end],  # endpoints keyed as the report: GET /x
            ),
        }

    # ------------------------------------------------------------------ parts
    def flush(self, wait: bool = False) -> None:
        """Swap the batch out and write it as the next part in a worker thread."""
        if self._mark < len(self._cols["outcome"]):
            self._carry = self.sample()  # reported with the next health sample
        if self._cols["outcome"]:
            batch, self._cols = self._cols, _empty_columns()
            self._mark = 0
            seq, self._seq = self._seq, self._seq + 1
            self.rows_written += len(batch["outcome"])
            self.ledger.write(seq, batch)
        # per-part counts, failed writes (kept, retried at the end) and the account
        self.ledger.collect(wait=wait)
        if wait:  # the run's end: compact the tail (the rest was compacted during the run)
            self.ledger.compact()


def add_summaries(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two `Recorder.sample` summaries as one: counts and histograms add up."""
    out = dict(a)
    for key, value in b.items():
        mine = out.get(key)
        if isinstance(mine, dict) and isinstance(value, dict):
            out[key] = add_summaries(mine, value)
        elif isinstance(mine, int | float) and isinstance(value, int | float):
            out[key] = mine + value
        else:
            out[key] = value
    return out


def warm_up() -> None:
    """Build an empty part in memory: pyarrow's first use imports pandas and more (over a
    second of CPU on a busy machine), which must not happen in a writer thread mid-run."""
    requests_table(_arrow_columns(_empty_columns(), "warm-up"))


def _empty_columns() -> dict[str, Any]:
    return {c: ([] if t is None else array(t)) for c, t in COLUMN_TYPES.items()}


def _arrow_columns(batch: dict[str, Any], worker_id: str) -> dict[str, Any]:
    """Columns as `surge.results.requests_table` takes them; NOT_SENT becomes null."""
    import pyarrow as pa

    cols: dict[str, Any] = dict(batch)
    for name in ("sent_us", "service_us"):
        values = np.frombuffer(batch[name], np.int64)
        cols[name] = pa.array(values, mask=values == NOT_SENT, type=pa.int64())
    for name in ("stage", "intended_us", "latency_us", "status", "bytes"):
        cols[name] = np.frombuffer(batch[name], np.dtype(batch[name].typecode))
    # one value for every row: a dictionary of one string (no list of n references
    # converted while holding the interpreter lock the event loop needs)
    rows = len(batch["outcome"])
    cols["worker"] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, np.int32)), pa.array([worker_id], pa.string())
    )
    return cols


def _write_batch(run_dir: Path, worker_id: str, seq: int, batch: dict[str, Any]) -> Path:
    """In a writer thread: arrays -> Arrow columns -> one Parquet part."""
    return write_part(run_dir, worker_id, seq, _arrow_columns(batch, worker_id))
