"""Per-endpoint views: which endpoint was slow or failed, how, and when.

An *endpoint* is a request's method and name (``POST /products/{id}/buy``); a name that
already starts with its method is not prefixed twice, and a dropped request (never
sent, so it has no method) is listed under its name alone, which is the scenario's task
name. Everything here is a pure function of the request frame: counts, rates and
nearest-rank percentiles come from `analysis.metrics.group_summary` over the raw
records of each group, never from other percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from surge.analysis.checks import metric_values
from surge.analysis.loading import DROPPED, ERROR, REJECTED, TIMEOUT, RunData
from surge.analysis.metrics import answered, group_summary
from surge.analysis.plain import plain
from surge.analysis.rule_scope import add_rule_metrics, frame_rule_rows
from surge.analysis.stages import window_codes
from surge.locustfiles.endpoints import endpoint_label  # one endpoint key, also live
from surge.locustfiles.error_types import shown_type  # one failure-type rule, also live

#: the columns of the per-endpoint table (whole run) and of its per-stage rows
ENDPOINT_COLUMNS = (
    "endpoint", "requests", "sent_rps", "achieved_rps", "ok", "rejected", "error", "timeout",
    "dropped", "throttled", "success_rate", "error_rate", "p50", "p90", "p95", "p99", "max",
    "p95_uncorrected", "p99_uncorrected",
)  # fmt: skip
ENDPOINT_STAGE_COLUMNS = ("stage", "stage_name", *ENDPOINT_COLUMNS)
FAILURE_COLUMNS = (
    "endpoint", "outcome", "status", "error_type", "throttled", "count", "share", "first_s",
    "last_s", "stages",
)  # fmt: skip
OUTCOME_WORDS = {ERROR: "error", TIMEOUT: "timeout", DROPPED: "dropped"}
#: (stage, endpoint) groups at most in the per-stage view; beyond, the busiest endpoints
MAX_STAGE_GROUPS = 20_000
#: rows listed in summary.json and the pages (the CSVs have all): the busiest endpoints,
#: the biggest failures. A scenario naming requests by raw URL has thousands.
MAX_LISTED = 200


@dataclass(frozen=True)
class Endpoints:
    """Each request's endpoint code (-1: none) and the labels the codes index (sorted)."""

    codes: np.ndarray
    labels: tuple[str, ...]


def endpoints_of(frame: pd.DataFrame) -> Endpoints:
    """Endpoint codes from the frame's method and name categoricals (one pass of codes)."""
    names = frame["name"].cat
    methods = frame["method"].cat
    n_names = max(len(names.categories), 1)
    # (method, name) pairs as one small code; a null method (-1) gets slot 0, and pairs
    # that read the same ("" + "x", null + "x") are merged by label below
    method_codes = np.maximum(methods.codes.to_numpy(), -1).astype(np.int32) + 1
    pair = method_codes * np.int32(n_names) + names.codes.to_numpy().astype(np.int32)
    # dense codes by a lookup table, O(n): no sort of the whole column (np.unique would)
    pairs = np.flatnonzero(np.bincount(pair)) if len(pair) else np.zeros(0, np.int64)
    lookup = np.full(int(pairs.max()) + 1 if len(pairs) else 1, -1, np.int32)
    lookup[pairs] = np.arange(len(pairs), dtype=np.int32)
    inverse = lookup[pair]
    method_values = np.asarray(methods.categories, dtype=object)
    name_values = np.asarray(names.categories, dtype=object)
    labels = [
        endpoint_label(
            method_values[p // n_names - 1] if p >= n_names else "", str(name_values[p % n_names])
        )
        for p in pairs.tolist()
    ]
    unique, remap = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    codes = remap[inverse].astype(np.int32) if len(pair) else np.zeros(0, np.int32)
    return Endpoints(codes=codes, labels=tuple(str(u) for u in unique))


def _with_rates(summary: pd.DataFrame, seconds: np.ndarray | float) -> pd.DataFrame:
    span = pd.Series(np.broadcast_to(seconds, len(summary)), index=summary.index, dtype=float)
    span = span.where(span > 0)
    return summary.assign(
        sent_rps=(summary["requests"] - summary["dropped"]) / span,
        achieved_rps=answered(summary) / span,
    )


def endpoint_table(run: RunData, endpoints: Endpoints) -> pd.DataFrame:
    """One row per endpoint over the whole run: requests, rates over the schedule's
    duration, outcomes, corrected percentiles with the uncorrected p95/p99 beside."""
    n = len(endpoints.labels)
    if n == 0:
        return pd.DataFrame(columns=list(ENDPOINT_COLUMNS))
    summary = group_summary(run, endpoints.codes, n, uncorrected=True)
    table = _with_rates(summary, run.duration_s).assign(endpoint=list(endpoints.labels))
    return _ordered(table, ENDPOINT_COLUMNS).reset_index(drop=True)


def _ordered(table: pd.DataFrame, first: tuple[str, ...]) -> pd.DataFrame:
    """The shown columns first, the rest (p999, avg, rates: what thresholds read) after."""
    return table[list(first) + [c for c in table.columns if c not in first]]


def endpoint_stage_table(run: RunData, endpoints: Endpoints, stages: pd.DataFrame) -> pd.DataFrame:
    """One row per (stage, endpoint) with requests in the stage's measured window (the
    same windows as the stage table: holds skip their warm-up), rates over the window."""
    n_end, n_win = len(endpoints.labels), len(stages)
    if n_end == 0 or n_win == 0:
        return pd.DataFrame(columns=list(ENDPOINT_STAGE_COLUMNS))
    shown, labels = _busiest(endpoints, max(MAX_STAGE_GROUPS // n_win, 1))
    n_end = len(labels)
    window = window_codes(run.requests, stages)
    codes = np.where((window >= 0) & (shown >= 0), window.astype(np.int64) * n_end + shown, -1)
    summary = group_summary(run, codes, n_win * n_end, uncorrected=True)
    rows = np.arange(n_win * n_end)
    position = rows // n_end
    table = _with_rates(summary, stages["window_s"].to_numpy()[position]).assign(
        stage=stages["stage"].to_numpy()[position] + 1,
        stage_name=_stage_names(stages)[position],
        endpoint=np.asarray(labels, dtype=object)[rows % n_end],
    )
    table = table[table["requests"] > 0]
    return _ordered(table, ENDPOINT_STAGE_COLUMNS).reset_index(drop=True)


def endpoint_metrics(table: pd.DataFrame, seconds: float) -> dict[str, dict[str, float]]:
    """Threshold metrics per endpoint from `endpoint_table` (rates over `seconds`)."""
    return {row["endpoint"]: metric_values(row, seconds) for row in table.to_dict("records")}


def endpoint_metrics_by_stage(table: pd.DataFrame, stages: pd.DataFrame) -> dict:
    """stage index (0-based, as in the stage table) -> endpoint -> threshold metrics, from
    `endpoint_stage_table`; what the knee holds scoped rules to."""
    window = dict(zip(stages["stage"].astype(int) + 1, stages["window_s"], strict=True))
    out: dict[int, dict[str, dict[str, float]]] = {}
    for row in table.to_dict("records"):
        stage = int(row["stage"])
        out.setdefault(stage - 1, {})[row["endpoint"]] = metric_values(row, window[stage])
    return out


def _busiest(endpoints: Endpoints, keep: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes and labels of at most `keep` endpoints, the most requested (others -1): a
    scenario naming requests by raw URL must not make stages x names groups explode."""
    n = len(endpoints.labels)
    if n <= keep:
        return endpoints.codes, endpoints.labels
    counts = np.bincount(endpoints.codes[endpoints.codes >= 0], minlength=n)
    kept = np.sort(np.argsort(-counts, kind="stable")[:keep])
    lookup = np.full(n, -1, np.int32)
    lookup[kept] = np.arange(len(kept), dtype=np.int32)
    codes = np.where(endpoints.codes >= 0, lookup[np.maximum(endpoints.codes, 0)], -1)
    return codes, tuple(endpoints.labels[i] for i in kept)


def _stage_names(stages: pd.DataFrame) -> np.ndarray:
    if "name" in stages:
        return stages["name"].fillna("").astype(str).to_numpy()
    return np.full(len(stages), "", dtype=object)


def failure_table(run: RunData, endpoints: Endpoints) -> pd.DataFrame:
    """Failed requests (error, timeout, dropped) by endpoint, status and error type: how
    many, their share of the endpoint's requests, first/last seen (seconds from the start,
    by intended send time) and the stages (numbered from 1) they occurred in."""
    frame = run.requests
    outcome = frame["outcome"].to_numpy()
    failed = outcome > REJECTED
    if not failed.any():
        return pd.DataFrame(columns=list(FAILURE_COLUMNS))
    errors = frame["error"]
    part = pd.DataFrame(
        {
            "code": endpoints.codes[failed],
            "outcome": outcome[failed],
            "status": frame["status"].to_numpy()[failed],
            "error": errors.cat.codes.to_numpy()[failed],
            "throttled": frame["throttled"].to_numpy()[failed],
            "offset_us": frame["offset_us"].to_numpy()[failed],
            "stage": frame["stage"].to_numpy()[failed],
        }
    )
    texts = list(errors.cat.categories)
    part["error_type"] = [
        shown_type(texts[e] if e >= 0 else None, int(s))
        for e, s in zip(part["error"].tolist(), part["status"].tolist(), strict=True)
    ]
    keys = ["code", "outcome", "status", "error_type"]
    grouped = part.groupby(keys, sort=True).agg(
        count=("offset_us", "size"),
        first_us=("offset_us", "min"),
        last_us=("offset_us", "max"),
        throttled=("throttled", "any"),
        stages=("stage", lambda s: sorted({int(x) + 1 for x in s})),
    )
    grouped = grouped.reset_index()
    totals = np.bincount(endpoints.codes[endpoints.codes >= 0], minlength=len(endpoints.labels))
    labels = np.asarray(endpoints.labels, dtype=object)
    return failure_rows(grouped.assign(endpoint=labels[grouped["code"].to_numpy()]), totals)


def failure_rows(grouped: pd.DataFrame, requests: np.ndarray) -> pd.DataFrame:
    """Failures grouped by endpoint code, outcome, status and type (with count, first_us,
    last_us, throttled, stages, endpoint) -> the failures table: outcome words, share of
    the endpoint's `requests` (indexed by code), seconds, the biggest first. Shared by the
    one-frame and the streamed (bounded-memory) report."""
    table = grouped.assign(
        outcome=[OUTCOME_WORDS[int(o)] for o in grouped["outcome"]],
        share=grouped["count"] / requests[grouped["code"].to_numpy()],
        first_s=grouped["first_us"] / 1e6,
        last_s=grouped["last_us"] / 1e6,
    )
    table = table.sort_values(["count", "endpoint"], ascending=[False, True], kind="stable")
    return table[list(FAILURE_COLUMNS)].reset_index(drop=True)


@dataclass(frozen=True)
class EndpointViews:
    """Everything per endpoint that the report shows and the thresholds read."""

    endpoints: Endpoints
    table: pd.DataFrame  # `endpoint_table`
    by_stage: pd.DataFrame  # `endpoint_stage_table`
    failures: pd.DataFrame  # `failure_table`
    metrics: dict[str, dict[str, float]]  # endpoint -> whole-run threshold metrics
    metrics_by_stage: dict[int, dict[str, dict[str, float]]]  # stage -> endpoint -> metrics


def endpoint_views(run: RunData, windows: pd.DataFrame) -> EndpointViews:
    """All per-endpoint tables of a run; `windows` are the stage windows
    (`analysis.stages.add_windows`), the same the stage table measures."""
    endpoints = endpoints_of(run.requests)
    table = endpoint_table(run, endpoints)
    by_stage = endpoint_stage_table(run, endpoints, windows)
    metrics = endpoint_metrics(table, run.duration_s)
    metrics_by_stage = endpoint_metrics_by_stage(by_stage, windows)
    # a rule naming `/x` bare holds for every method of it, as live (`analysis.rule_scope`)
    rows = frame_rule_rows(run, endpoints.codes, endpoints.labels, windows)
    add_rule_metrics(metrics, metrics_by_stage, rows, run.duration_s, windows)
    return EndpointViews(
        endpoints=endpoints,
        table=table,
        by_stage=by_stage,
        failures=failure_table(run, endpoints),
        metrics=metrics,
        metrics_by_stage=metrics_by_stage,
    )


def records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{c: plain(row[c]) for c in columns} for row in frame.to_dict("records")]


def summary_part(views: EndpointViews | None) -> dict[str, Any]:
    """summary.json's per-endpoint keys: `endpoints`, `endpoint_stages`, `failures`."""
    if views is None:
        return {"endpoints": [], "endpoint_stages": [], "failures": [], "listed": {}}
    table = views.table
    if len(table) > MAX_LISTED:
        table = table.nlargest(MAX_LISTED, "requests", keep="first").sort_values("endpoint")
    listed = set(table["endpoint"])
    by_stage = views.by_stage[views.by_stage["endpoint"].isin(listed)]
    return {
        "endpoints": records(table, ENDPOINT_COLUMNS),
        "endpoint_stages": records(by_stage, ENDPOINT_STAGE_COLUMNS),
        "failures": records(views.failures.head(MAX_LISTED), FAILURE_COLUMNS),
        "listed": {  # how many rows each list would have without the cap (CSVs: all)
            "endpoints": len(views.table),
            "failures": len(views.failures),
        },
    }
