"""Thresholds evaluated on measured values: one result per rule, with the value shown.

Both the run verdict (whole-run data) and the knee (one stage's window) evaluate
`surge.thresholds.Threshold` rules here, on metrics in the rules' base units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from surge.thresholds import MetricKind, Threshold
from surge.trust import successful

#: the service level used when a schedule defines none: the original team's goal
DEFAULT_SLO: tuple[Threshold, ...] = (
    Threshold(metric="p95", op="<", value=3.0),
    Threshold(metric="success_rate", op=">=", value=0.99),
)


@dataclass(frozen=True)
class CheckResult:
    """One threshold against one measured value (None when nothing was measured)."""

    rule: str
    metric: str
    kind: MetricKind
    measured: float | None
    passed: bool
    name: str | None = None  # the endpoint a scoped rule holds for
    no_data: bool = False  # a scoped rule whose endpoint had no requests: not judged

    @property
    def shown(self) -> str:
        return format_measured(self.kind, self.measured)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "metric": self.metric,
            "measured": self.measured,
            "measured_text": self.shown,
            "passed": self.passed,
            "name": self.name,
            "no_data": self.no_data,
        }


def format_measured(kind: MetricKind, value: float | None) -> str:
    """A measured value for people: ``842 ms``, ``3.21 s``, ``99.52%``, ``512.3/s``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind is MetricKind.LATENCY:
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if kind is MetricKind.FRACTION:
        return f"{value * 100:.2f}%"
    return f"{value:,.1f}/s"


#: metrics read straight from a summary row (see `analysis.metrics`); `rps` is derived
SUMMARY_METRICS = (
    "p50", "p90", "p95", "p99", "p999", "max", "avg", "success_rate", "error_rate", "dropped_rate",
)  # fmt: skip


def metric_values(row: Mapping[str, Any], window_s: float) -> dict[str, float]:
    """Threshold metrics (base units) from one summary row (see `analysis.metrics`)."""
    values = {name: float(row[name]) for name in SUMMARY_METRICS}
    good = float(successful(row))
    values["rps"] = good / window_s if window_s > 0 else math.nan
    return values


def evaluate(
    thresholds: Iterable[Threshold],
    values: Mapping[str, float],
    by_endpoint: Mapping[str, Mapping[str, float]] | None = None,
) -> list[CheckResult]:
    """Each rule against its metric; a metric that could not be measured (NaN) fails.

    A rule scoped to an endpoint reads `by_endpoint[name]` (a bare ``/x`` finds its methods
    merged there: `analysis.rule_scope`); an endpoint without requests
    there is not judged (`no_data`, passed): a typo in a name is reported as a warning
    (`unknown_endpoints`), and a stage in which an endpoint was not called says nothing
    about it."""
    results = []
    for threshold in thresholds:
        source: Mapping[str, float] | None = values
        if threshold.name is not None:
            source = (by_endpoint or {}).get(threshold.name)
        measured = math.nan if source is None else source.get(threshold.metric, math.nan)
        ok = not math.isnan(measured) and threshold.passes(measured)
        results.append(
            CheckResult(
                rule=threshold.rule,
                metric=threshold.metric,
                kind=threshold.kind,
                measured=None if math.isnan(measured) else measured,
                passed=ok or source is None,
                name=threshold.name,
                no_data=source is None,
            )
        )
    return results


def unknown_endpoints(thresholds: Iterable[Threshold], known: Iterable[str]) -> list[str]:
    """Warnings for scoped rules naming an endpoint the run never called."""
    seen = set(known)
    return [
        f"threshold {t.rule}: no requests named {t.name!r} in this run "
        f"(endpoints: {', '.join(sorted(seen)) or 'none'})"
        for t in thresholds
        if t.name is not None and t.name not in seen
    ]


def service_level(thresholds: Iterable[Threshold]) -> tuple[Threshold, ...]:
    """The rules a single stage is held to: the schedule's, minus run-level `rps` targets."""
    rules = tuple(t for t in thresholds if t.kind is not MetricKind.RATE)
    return rules or DEFAULT_SLO
