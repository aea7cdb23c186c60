"""The knee: the highest offered rate that still met the service level, and what broke first.

Steady stages are taken in order of offered rate; the knee is the highest rate up to
which *every* tested rate met the service level. A passing stage above a failing one
is luck, not capacity, so it does not raise the knee. The first failing stage is
"what broke first", with its cause: throttling, timeouts, errors, dropped requests
(the generator could not send them) or latency alone.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from surge.analysis.checks import CheckResult, evaluate, metric_values
from surge.analysis.stages import steady
from surge.thresholds import MetricKind, Threshold


class Cause(enum.Enum):
    THROTTLING = "throttling"
    TIMEOUTS = "timeouts"
    ERRORS = "errors"
    DROPPED = "dropped requests"
    LATENCY = "latency"


@dataclass(frozen=True)
class Break:
    """The first steady stage that missed the service level."""

    stage: int
    offered_rps: float
    cause: Cause
    detail: str
    failed: tuple[CheckResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "offered_rps": self.offered_rps,
            "cause": self.cause.value,
            "detail": self.detail,
            "failed": [c.to_dict() for c in self.failed],
        }


@dataclass(frozen=True)
class Knee:
    slo: tuple[str, ...]  # the rules each stage was held to
    rate_rps: float | None  # None: not even the lowest tested rate met the service level
    rate_per_worker: float | None
    stage: int | None
    achieved_rps: float | None  # successful answers per second at the knee
    broke: Break | None  # None: every tested rate met it (the knee is above the test)
    tested: int = 0  # steady stages considered
    notes: tuple[str, ...] = field(default=())

    @property
    def above_test(self) -> bool:
        return self.broke is None and self.rate_rps is not None

    def headline(self) -> str:
        if self.tested == 0:
            return "no steady stage to judge"
        if self.rate_rps is None:
            return "not reached: even the lowest tested rate missed the service level"
        text = f"{self.rate_rps:,.0f} req/s"
        return text + (" (every tested rate passed; the knee is higher)" if self.above_test else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "service_level": list(self.slo),
            "rate_rps": self.rate_rps,
            "rate_per_worker": self.rate_per_worker,
            "stage": self.stage,
            "achieved_rps": self.achieved_rps,
            "above_test": self.above_test,
            "tested_stages": self.tested,
            "broke_first": self.broke.to_dict() if self.broke else None,
            "headline": self.headline(),
        }


def add_service_level(
    table: pd.DataFrame,
    slo: tuple[Threshold, ...],
    by_endpoint: Mapping[int, Mapping[str, Mapping[str, float]]] | None = None,
) -> pd.DataFrame:
    """Columns `slo_pass` and `slo_failed` (failed rules with values) for every stage.

    `by_endpoint` (stage -> endpoint -> metrics, see `analysis.endpoints`) is what rules
    scoped to one endpoint are held to in each stage."""
    passed, failed = [], []
    for row in table.to_dict("records"):
        scoped = (by_endpoint or {}).get(int(row["stage"]), {})
        results = evaluate(slo, metric_values(row, row["window_s"]), scoped)
        passed.append(bool(row["requests"] > 0) and all(r.passed for r in results))
        failed.append(tuple(r for r in results if not r.passed))
    return table.assign(slo_pass=passed, slo_checks=failed)


def cause_of(row: dict[str, Any], failed: tuple[CheckResult, ...]) -> tuple[Cause, str]:
    """Why a stage failed: the biggest failure category, or latency when only latency failed."""
    fraction_failed = any(r.kind is MetricKind.FRACTION for r in failed)
    categories = {
        Cause.THROTTLING: row["throttled"],
        Cause.TIMEOUTS: row["timeout"],
        Cause.ERRORS: row["error"] - row["throttled"],
        Cause.DROPPED: row["dropped"],
    }
    worst = max(categories, key=lambda c: categories[c])
    requests = max(int(row["requests"]), 1)
    missed = "missed " + ", ".join(f"{r.rule} (measured {r.shown})" for r in failed)
    if fraction_failed and categories[worst] > 0:
        share = categories[worst] / requests
        errors = f" [{row['errors']}]" if row.get("errors") else ""
        return worst, f"{worst.value}: {share:.1%} of requests{errors}; {missed}"
    return Cause.LATENCY, missed


def find_knee(table: pd.DataFrame, slo: tuple[Threshold, ...], workers: int) -> Knee:
    """The knee over the steady stages of a stage table that has `add_service_level` columns."""
    rules = tuple(t.rule for t in slo)
    stages = steady(table).sort_values(["offered_rps", "stage"], kind="stable")
    knee_row: dict[str, Any] | None = None
    broke: Break | None = None
    for row in stages.to_dict("records"):
        if row["slo_pass"]:
            knee_row = row
            continue
        cause, detail = cause_of(row, row["slo_checks"])
        broke = Break(
            stage=int(row["stage"]),
            offered_rps=float(row["offered_rps"]),
            cause=cause,
            detail=detail,
            failed=row["slo_checks"],
        )
        break
    if knee_row is None:
        return Knee(
            slo=rules,
            rate_rps=None,
            rate_per_worker=None,
            stage=None,
            achieved_rps=None,
            broke=broke,
            tested=len(stages),
        )
    return Knee(
        slo=rules,
        rate_rps=float(knee_row["offered_rps"]),
        rate_per_worker=float(knee_row["offered_rps"]) / max(workers, 1),
        stage=int(knee_row["stage"]),
        achieved_rps=float(knee_row["achieved_rps"]),
        broke=broke,
        tested=len(stages),
    )
