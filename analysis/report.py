"""`build_report`: run directory in, RUN/report/ out, verdict back. `surge run` calls it too.

Computing (loading -> timeline -> stages -> knee -> verdict -> compare -> cost) is kept
apart from rendering (`analysis.render`), so tests check numbers without HTML and the
HTML is drawn from the same aggregates the CSVs carry.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from surge import __version__
from surge.analysis.checks import service_level
from surge.analysis.compare import DEFAULT_TOLERANCE, Comparison, compare
from surge.analysis.cost import (
    PRICES_AS_OF,
    CostInputs,
    FleetCost,
    fleet_cost,
    serverless_vs_servers,
)
from surge.analysis.distribution import latency_histogram
from surge.analysis.endpoints import EndpointViews, endpoint_views, summary_part
from surge.analysis.histograms import TooManyGroups
from surge.analysis.knee import Knee, add_service_level, find_knee
from surge.analysis.loading import (
    DEFAULT_THROTTLE_PATTERN,
    DEFAULT_THROTTLE_STATUSES,
    RunData,
    load_run,
)
from surge.analysis.metrics import group_summary
from surge.analysis.plain import plain as _plain
from surge.analysis.render import write_all
from surge.analysis.rootcause import Culprit, what_broke_first
from surge.analysis.scenario_errors import summary_rows as scenario_error_rows
from surge.analysis.search import (
    judged_steps,
    search_record,
    search_summary,
    search_verdict,
    versus_baseline,
)
from surge.analysis.stages import DEFAULT_WARMUP_S, add_windows, stage_table, steady
from surge.analysis.streamed_report import load_streamed, streamed_stage_table, streamed_views
from surge.analysis.timeline import per_second, per_second_by_name
from surge.analysis.verdict import Verdict, decide
from surge.errors import ExitCode, UsageError
from surge.manifest import iso
from surge.results import REPORT_DIR, SUMMARY_VERSION
from surge.trust import successful

DEFAULT_COST_HOURS = 24.0  # the original team's question: a day at the knee rate


@dataclass
class Report:
    """Everything computed for one run, and where it was written."""

    run: RunData
    out_dir: Path
    verdict: Verdict
    knee: Knee
    stages: pd.DataFrame
    timeline: pd.DataFrame
    timeline_by_name: pd.DataFrame
    whole_run: pd.Series
    histogram: pd.DataFrame
    fleet: FleetCost
    serving: dict[str, Any]
    comparison: Comparison | None = None
    files: dict[str, Path] = field(default_factory=dict)
    views: EndpointViews | None = None  # per-endpoint tables (analysis.endpoints)
    broke_first: str | None = None  # the root-cause sentence (analysis.rootcause)
    culprits: list[Culprit] = field(default_factory=list)
    search: dict[str, Any] | None = None  # a capacity search's section (analysis.search)

    @property
    def exit_code(self) -> ExitCode:
        return self.verdict.exit_code

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def peak(self) -> dict[str, float | None]:
        held = steady(self.stages)
        return {
            "offered_rps": float(self.stages["offered_rps"].max()) if len(self.stages) else None,
            "achieved_rps": float(held["achieved_rps"].max()) if len(held) else None,
            "sustained_rps": self.knee.achieved_rps,
        }


def serving_cost(knee: Knee, stages: pd.DataFrame, overrides: Mapping[str, float] | None) -> dict:
    """The original team's question, at the measured knee (or the peak answered rate)."""
    held = steady(stages)
    rate = knee.rate_rps
    basis = "the knee (highest rate meeting the service level)"
    if rate is None:
        rate = float(held["achieved_rps"].max()) if len(held) else 0.0
        basis = "the highest achieved rate (no stage met the service level)"
    values = {"rps": float(rate if math.isfinite(rate) else 0.0), "hours": DEFAULT_COST_HOURS}
    values.update(dict(overrides or {}))
    inputs = CostInputs(**values)
    return {
        "basis": basis,
        "prices": PRICES_AS_OF,
        "inputs": vars(inputs).copy(),
        "result": serverless_vs_servers(inputs),
    }


def build_report(
    run_dir: str | Path,
    *,
    out_dir: str | Path | None = None,
    baseline: str | Path | None = None,
    warmup_s: float = DEFAULT_WARMUP_S,
    tolerance: float = DEFAULT_TOLERANCE,
    regressions_fail: bool = False,
    throttle_statuses: Collection[int] = DEFAULT_THROTTLE_STATUSES,
    throttle_pattern: str = DEFAULT_THROTTLE_PATTERN,
    prices: Mapping[str, float] | None = None,
    cost: Mapping[str, float] | None = None,
    charts: bool = True,
) -> Report:
    """Compute the report of a run and write it to `out_dir` (default RUN/report/).

    `baseline` is another run directory to compare with; with `regressions_fail`
    its regressions fail the verdict. Raises `RunDirError` for a broken run dir.
    """
    throttling = {"throttle_statuses": throttle_statuses, "throttle_pattern": throttle_pattern}
    run = load_for_report(run_dir, warmup_s=warmup_s, **throttling)
    report = compute(run, warmup_s=warmup_s, prices=prices, cost=cost)
    if baseline is not None:
        base = load_for_report(baseline, warmup_s=warmup_s, **throttling)
        if base.streamed is None:
            base_views = endpoint_views(base, add_windows(base.stages, warmup_s))
            base_table = stage_table(base, warmup_s)
        else:
            base_views = streamed_views(base.streamed)
            base_table = streamed_stage_table(base.streamed)
        base_stages = base_table.pipe(
            add_service_level, service_level(base.thresholds), base_views.metrics_by_stage
        )
        base_knee = find_knee(base_stages, service_level(base.thresholds), base.workers)
        base_duration_s = base.duration_s
        del base
        report.comparison = compare(
            report.stages,
            base_stages,
            baseline_run_id=str(Path(baseline).name),
            knee_rps=report.knee.rate_rps,
            baseline_knee_rps=base_knee.rate_rps,
            tolerance=tolerance,
        )
        report.verdict = decide(
            run,
            report.whole_run,
            regressions=report.comparison.regressions,
            regressions_fail=regressions_fail,
            by_endpoint=report.views.metrics if report.views else None,
        )
        if report.search is not None:  # a search keeps its own verdict; vs. a staircase
            report.verdict = search_verdict(run, report.stages, report.knee, search_record(run))
            report.search["baseline"] = versus_baseline(
                report.search, Path(baseline).name, base_knee.rate_rps, base_duration_s
            )
    report.out_dir = Path(out_dir) if out_dir else Path(run_dir) / REPORT_DIR
    report.files = write_all(report, summary(report), STAGE_COLUMNS, charts=charts)
    return report


#: how `surge report` reads the records: "stream" (bounded memory, `analysis.streaming`)
#: or "frame" (every request in one frame, `analysis.loading`); $SURGE_REPORT_ENGINE
DEFAULT_ENGINE = "stream"
ENGINES = ("stream", "frame")


def load_for_report(
    run_dir: str | Path,
    *,
    warmup_s: float = DEFAULT_WARMUP_S,
    engine: str | None = None,
    **throttling: Any,
) -> RunData:
    """The run as the report reads it. Streamed (bounded memory) by default; a capacity
    search run is read into a frame (its verdict re-reads the requests of chosen steps)."""
    engine = engine or os.environ.get("SURGE_REPORT_ENGINE") or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise UsageError(f"unknown report engine {engine!r}", "SURGE_REPORT_ENGINE")
    if engine == "stream":
        try:
            run = load_streamed(run_dir, warmup_s=warmup_s, **throttling)
        except TooManyGroups:  # millions of endpoints x stages: the frame copes (busiest)
            return load_run(run_dir, **throttling)
        if search_record(run) is None:
            return run
    return load_run(run_dir, **throttling)


def compute(
    run: RunData,
    *,
    warmup_s: float = DEFAULT_WARMUP_S,
    prices: Mapping[str, float] | None = None,
    cost: Mapping[str, float] | None = None,
) -> Report:
    """All numbers of the report, nothing written."""
    slo = service_level(run.thresholds)
    streamed = run.streamed  # bounded memory (#17): the same frames from aggregates
    if streamed is None:
        views = endpoint_views(run, add_windows(run.stages, warmup_s))
        table = stage_table(run, warmup_s)
        whole = group_summary(run, np.zeros(len(run.requests), np.int8), 1).iloc[0]
    else:
        views, table = streamed_views(streamed), streamed_stage_table(streamed)
        whole = streamed.whole
    stages = table.pipe(add_service_level, slo, views.metrics_by_stage)
    record = search_record(run)  # a capacity search (load.search): its own verdict and section
    knee = find_knee(stages if record is None else judged_steps(stages, record), slo, run.workers)
    timeout_s = (run.manifest.schedule.get("limits") or {}).get("timeout_s")
    sentence, culprits = what_broke_first(
        run, knee, views.endpoints, stages, views.by_stage, timeout_s
    )
    return Report(
        run=run,
        out_dir=run.run_dir / REPORT_DIR,
        verdict=decide(run, whole, by_endpoint=views.metrics)
        if record is None
        else search_verdict(run, stages, knee, record),
        knee=knee,
        stages=stages,
        timeline=per_second(run) if streamed is None else streamed.timeline,
        timeline_by_name=(
            per_second_by_name(run) if streamed is None else streamed.timeline_by_name
        ),
        whole_run=whole,
        histogram=latency_histogram(run.requests) if streamed is None else streamed.histogram,
        fleet=fleet_cost(run.manifest, run.duration_s, prices),
        serving=serving_cost(knee, stages, cost),
        views=views,
        broke_first=sentence,
        culprits=culprits,
        search=None if record is None else search_summary(run, record, stages, knee, whole),
    )


def summary(report: Report) -> dict[str, Any]:
    """summary.json: versioned, everything a CI job or dashboard needs, no raw data."""
    run = report.run
    whole = {k: _plain(v) for k, v in report.whole_run.items()}
    whole.update({k: int(whole[k]) for k in COUNT_COLUMNS})
    whole["rps"] = successful(whole) / run.duration_s if run.duration_s else None
    schedule = run.manifest.schedule
    return {
        "summary_version": SUMMARY_VERSION,
        "generated_by": f"surge {__version__}",
        "generated_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "run_id": run.run_id,
        "schedule": {
            "name": schedule.get("name"),
            "target": schedule.get("target"),
            "per_worker": schedule.get("per_worker", False),
            # which scenario produced these numbers (#14): the file and its bundle's hash
            "locustfile": (schedule.get("scenario") or {}).get("locustfile"),
            "scenario_bundle": run.manifest.scenario_bundle,
            # #21: which client sent the requests, and whether TLS was verified
            "client": (run.manifest.scenario_client or {}).get("client"),
            # users moved to Locust's own client at call time: [{user_class, why, users}]
            "client_switched": (run.manifest.scenario_client or {}).get("switched") or [],
            "tls": (schedule.get("scenario") or {}).get("tls") or {"verify": True},
        },
        "started_at": iso(run.manifest.started_at),
        "ended_at": iso(run.manifest.ended_at),
        "workers": run.workers,
        "duration_s": run.duration_s,
        "verdict": report.verdict.to_dict(),
        "knee": {
            **report.knee.to_dict(),
            "broke_first_sentence": report.broke_first,
            "broke_first_endpoints": [c.to_dict() for c in report.culprits],
        },
        "peak": report.peak(),
        "whole_run": whole,
        "stages": stage_records(report.stages),
        "cost": {"fleet": report.fleet.to_dict(), "serving": report.serving},
        "comparison": report.comparison.to_dict() if report.comparison else None,
        "search": report.search,
        # exceptions of the scenario's own code: not requests, so nowhere else (QA)
        "scenario_errors": scenario_error_rows(run.manifest.scenario_errors),
        **summary_part(report.views),
    }


COUNT_COLUMNS = ("requests", "ok", "rejected", "error", "timeout", "dropped", "throttled")
STAGE_COLUMNS = (
    "stage",
    "name",
    "kind",
    "steady",
    "start_s",
    "duration_s",
    "window_start_s",
    "window_s",
    "offered_rps",
    "offered_per_worker",
    "sent_rps",
    "achieved_rps",
    "requests",
    "ok",
    "rejected",
    "error",
    "timeout",
    "dropped",
    "throttled",
    "success_rate",
    "error_rate",
    "dropped_rate",
    "throttled_rate",
    "timeout_rate",
    "p50",
    "p90",
    "p95",
    "p99",
    "p999",
    "max",
    "avg",
    "p50_uncorrected",
    "p95_uncorrected",
    "p99_uncorrected",
    "max_uncorrected",
    "errors",
    "errors_throttled",
    "errors_timeout",
    "errors_connection",
    "errors_4xx",
    "errors_5xx",
    "slo_pass",
)


def stage_records(stages: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for row in stages.to_dict("records"):
        out = {k: _plain(row[k]) for k in STAGE_COLUMNS}
        out["slo_failed"] = [c.to_dict() for c in row["slo_checks"]]
        rows.append(out)
    return rows
