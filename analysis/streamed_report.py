"""The report's inputs from `analysis.streaming` aggregates instead of a requests frame.

`load_streamed` returns a `RunData` whose `requests` frame is EMPTY and whose `streamed`
carries the aggregates; `analysis.report.compute`, `analysis.rootcause.culprits` and
`analysis.verdict.trust_of` read `run.streamed` when it is set. The functions here turn
the aggregates into exactly the frames the in-memory path builds (stage table,
endpoint views, failures, culprits), so rendering, the knee and the verdict do not
know which path computed them.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from surge.analysis.endings import incomplete
from surge.analysis.endpoints import (
    ENDPOINT_COLUMNS,
    ENDPOINT_STAGE_COLUMNS,
    FAILURE_COLUMNS,
    MAX_STAGE_GROUPS,
    Endpoints,
    EndpointViews,
    _ordered,
    _stage_names,
    _with_rates,
    endpoint_metrics,
    endpoint_metrics_by_stage,
    failure_rows,
)
from surge.analysis.loading import (
    DEFAULT_THROTTLE_PATTERN,
    DEFAULT_THROTTLE_STATUSES,
    RunData,
    parse_thresholds,
    prepare_health,
    prepare_requests,
)
from surge.analysis.records import RECORD_TYPES
from surge.analysis.rule_scope import add_rule_metrics
from surge.analysis.stages import DEFAULT_WARMUP_S, stage_table_from
from surge.analysis.streaming import StreamedRun, stream_run
from surge.locustfiles.error_types import shown_type
from surge.results import read_health


def empty_requests() -> pd.DataFrame:
    """The requests frame with its columns and no row (the streamed run keeps none)."""
    columns: dict = {k: np.zeros(0, t) for k, t in RECORD_TYPES.items()}
    for key in ("names", "methods", "errors"):
        columns[key] = np.zeros(0, object)
    return prepare_requests(columns, 0)


def load_streamed(
    run_dir: str | Path,
    *,
    warmup_s: float = DEFAULT_WARMUP_S,
    throttle_statuses: Collection[int] = DEFAULT_THROTTLE_STATUSES,
    throttle_pattern: str = DEFAULT_THROTTLE_PATTERN,
) -> RunData:
    """`analysis.loading.load_run` in bounded memory: the aggregates, no requests."""
    streamed = stream_run(
        run_dir,
        warmup_s=warmup_s,
        throttle_statuses=throttle_statuses,
        throttle_pattern=throttle_pattern,
    )
    manifest = streamed.manifest
    health = read_health(streamed.run_dir)  # one row per worker-second: small
    stages = streamed.windows[
        ["stage", "kind", "start_s", "duration_s", "rate_from", "rate_to", "name", "end_s",
         "offered_rps"]
    ].copy()  # fmt: skip
    return RunData(
        run_dir=streamed.run_dir,
        manifest=manifest,
        run_id=manifest.run_id or streamed.run_dir.name,
        start_us=streamed.start_us,
        workers=streamed.workers,
        stages=stages,
        thresholds=parse_thresholds(manifest.schedule.get("thresholds") or [], streamed.run_dir),
        requests=empty_requests(),
        health=None if health is None else prepare_health(health, streamed.start_us),
        incomplete=tuple(incomplete(manifest, streamed.run_dir, list(streamed.damaged))),
        damaged=streamed.damaged,
        streamed=streamed,
    )


def streamed_stage_table(s: StreamedRun) -> pd.DataFrame:
    """`analysis.stages.stage_table` from the aggregates."""
    return stage_table_from(s.windows, s.by_window, s.breakdown, s.workers)


def streamed_views(s: StreamedRun) -> EndpointViews:
    """`analysis.endpoints.endpoint_views` from the aggregates."""
    labels = s.endpoints
    endpoints = Endpoints(codes=np.zeros(0, np.int32), labels=labels)
    if labels:
        table = _with_rates(s.by_endpoint, s.duration_s).assign(endpoint=list(labels))
        table = _ordered(table, ENDPOINT_COLUMNS).reset_index(drop=True)
    else:
        table = pd.DataFrame(columns=list(ENDPOINT_COLUMNS))
    windows = s.windows
    pairs = s.by_endpoint_window
    keep = max(MAX_STAGE_GROUPS // max(len(windows), 1), 1)
    if len(labels) > keep:  # the busiest endpoints only, as `endpoint_stage_table` does
        counts = s.by_endpoint["requests"].to_numpy()
        kept = {labels[i] for i in np.argsort(-counts, kind="stable")[:keep]}
        pairs = pairs[pairs["endpoint"].isin(kept)]
    if len(pairs) and len(windows):
        position = pairs["window"].to_numpy()
        by_stage = _with_rates(
            pairs.drop(columns=["window", "endpoint"]), windows["window_s"].to_numpy()[position]
        ).assign(
            stage=windows["stage"].to_numpy()[position] + 1,
            stage_name=_stage_names(windows)[position],
            endpoint=pairs["endpoint"].to_numpy(),
        )
        by_stage = _ordered(by_stage, ENDPOINT_STAGE_COLUMNS).reset_index(drop=True)
    else:
        by_stage = pd.DataFrame(columns=list(ENDPOINT_STAGE_COLUMNS))
    metrics = endpoint_metrics(table, s.duration_s)
    metrics_by_stage = endpoint_metrics_by_stage(by_stage, windows)
    add_rule_metrics(metrics, metrics_by_stage, s.by_rule, s.duration_s, windows)  # bare `/x`
    return EndpointViews(
        endpoints=endpoints,
        table=table,
        by_stage=by_stage,
        failures=streamed_failures(s),
        metrics=metrics,
        metrics_by_stage=metrics_by_stage,
    )


def _typed_failures(s: StreamedRun) -> pd.DataFrame:
    """The failure aggregates with the failure type a person reads (`shown_type`)."""
    rows = s.failures
    texts = rows["error_text"].tolist()
    return rows.assign(
        error_type=[
            shown_type(t, int(st)) for t, st in zip(texts, rows["status"].tolist(), strict=True)
        ]
    )


def streamed_failures(s: StreamedRun) -> pd.DataFrame:
    """`analysis.endpoints.failure_table` from the aggregates."""
    if not len(s.failures):
        return pd.DataFrame(columns=list(FAILURE_COLUMNS))
    rows = _typed_failures(s)
    keys = ["code", "outcome", "status", "error_type"]
    grouped = (
        rows.groupby(keys, sort=True)
        .agg(
            count=("count", "sum"),
            first_us=("first_us", "min"),
            last_us=("last_us", "max"),
            throttled=("throttled", "any"),
            stages=("stage", lambda st: sorted({int(x) + 1 for x in st})),
            endpoint=("endpoint", "first"),
        )
        .reset_index()
    )
    return failure_rows(grouped, s.by_endpoint["requests"].to_numpy())


def streamed_culprits(s: StreamedRun, stages: pd.DataFrame, stage: int) -> list[dict]:
    """The fields of `analysis.rootcause.Culprit` per endpoint that failed in `stage`'s
    window, from the aggregates (rootcause picks the culprits among them)."""
    position = np.flatnonzero(stages["stage"].to_numpy() == stage)
    if not len(position) or not len(s.failures):
        return []
    rows = _typed_failures(s)
    rows = rows[rows["window"] == int(position[0])]
    if rows.empty:
        return []
    pairs = s.by_endpoint_window
    inside = pairs[pairs["window"] == int(position[0])]
    requests = dict(zip(inside["endpoint"], inside["requests"], strict=True))
    # the in-memory path orders error texts as sorted categories, null first
    rows = rows.assign(_text=rows["error_text"].fillna("")).sort_values(
        ["outcome", "status", "_text"], kind="stable"
    )
    out = []
    for endpoint, group in rows.groupby("endpoint", sort=False):
        by_kind = group.groupby(["outcome", "status", "_text"], sort=False)["count"].sum()
        kind, status, text = by_kind.idxmax()
        throttled = group.loc[group["throttled"], "count"].sum()
        out.append(
            dict(
                endpoint=str(endpoint),
                failed=int(group["count"].sum()),
                requests=int(requests.get(endpoint, 0)),
                error_type=shown_type(text or None, int(status)),
                status=int(status),
                throttled=bool(throttled / group["count"].sum() > 0.5),
                outcome=int(kind),
            )
        )
    return out
