"""The verdict: thresholds on the whole run, generator trust, and the exit code.

An untrustworthy run (a saturated generator, a late sender, too many dropped
requests, or the engine said so in the manifest) exits 3 whatever the thresholds
say: its numbers describe the generator, not the system under test.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from surge.analysis.checks import CheckResult, evaluate, metric_values, unknown_endpoints
from surge.analysis.endings import ending_status
from surge.analysis.loading import DROPPED, RunData
from surge.analysis.percentiles import percentiles_of
from surge.errors import ExitCode
from surge.results import Manifest
from surge.trust import (  # the master's live limits, applied again to the whole run
    MAX_DROPPED_FRACTION,
    MAX_SEND_LAG_P99_US,
    SATURATED_CPU_PERCENT,
    SATURATED_CPU_SECONDS,
)

_SEND_LAG_P99_LIMIT_S = MAX_SEND_LAG_P99_US / 1e6


class VerdictStatus(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    UNTRUSTWORTHY = "untrustworthy"
    INCOMPLETE = "incomplete"  # records missing: damaged parts, master lost, hard end...
    INTERRUPTED = "interrupted"  # stopped by a person or the kill switch


EXIT_CODES = {
    VerdictStatus.PASSED: ExitCode.PASSED,
    VerdictStatus.FAILED: ExitCode.THRESHOLDS_FAILED,
    VerdictStatus.UNTRUSTWORTHY: ExitCode.UNTRUSTWORTHY,
    VerdictStatus.INCOMPLETE: ExitCode.INFRASTRUCTURE,
    VerdictStatus.INTERRUPTED: ExitCode.INTERRUPTED,
}


@dataclass(frozen=True)
class Trust:
    """Did the generators keep up? Measured values plus the reasons they did not."""

    reasons: tuple[str, ...]
    send_lag_p99_s: float | None
    dropped_rate: float | None
    max_cpu_percent: float | None

    @property
    def trustworthy(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict[str, Any]:
        return {
            "trustworthy": self.trustworthy,
            "reasons": list(self.reasons),
            "send_lag_p99_s": self.send_lag_p99_s,
            "dropped_rate": self.dropped_rate,
            "max_cpu_percent": self.max_cpu_percent,
            "limits": {
                "cpu_percent": SATURATED_CPU_PERCENT,
                "cpu_for_s": SATURATED_CPU_SECONDS,
                "send_lag_p99_s": _SEND_LAG_P99_LIMIT_S,
                "dropped_rate": MAX_DROPPED_FRACTION,
            },
        }


@dataclass(frozen=True)
class Verdict:
    """Pass/fail per threshold, trust, regressions; `exit_code` is the contract's."""

    status: VerdictStatus
    checks: tuple[CheckResult, ...]
    trust: Trust
    regressions: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    incomplete: tuple[str, ...] = ()  # why the records are incomplete (analysis.endings)

    @property
    def exit_code(self) -> ExitCode:
        return EXIT_CODES[self.status]

    def detail(self) -> str:
        """The verdict's reason in one sentence, without the status word."""
        if self.status is VerdictStatus.INCOMPLETE:
            return "the run is incomplete: " + "; ".join(self.incomplete)
        if self.status is VerdictStatus.INTERRUPTED:
            return "the run was stopped early: " + "; ".join(self.notes[:1])
        if self.status is VerdictStatus.UNTRUSTWORTHY:
            return "the generators did not keep up: " + "; ".join(self.trust.reasons)
        failed = [f"{c.rule} (measured {c.shown})" for c in self.checks if not c.passed]
        if self.status is VerdictStatus.FAILED:
            missed = f"{len(failed)} of {len(self.checks)} thresholds missed: " if failed else ""
            return missed + "; ".join(failed + list(self.regressions) or list(self.notes[:1]))
        if not self.checks:
            return "no thresholds defined in the schedule"
        if len(self.checks) == 1:
            return "the 1 threshold met"
        return f"all {len(self.checks)} thresholds met"

    def headline(self) -> str:
        return f"{self.status.value.upper()}: {self.detail()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "exit_code": int(self.exit_code),
            "headline": self.headline(),
            "detail": self.detail(),
            "thresholds": [c.to_dict() for c in self.checks],
            "trust": self.trust.to_dict(),
            "regressions": list(self.regressions),
            "notes": list(self.notes),
            "incomplete": list(self.incomplete),
        }


def cpu_saturation(health: pd.DataFrame | None) -> tuple[list[str], float | None]:
    """Workers over `SATURATED_CPU_PERCENT` for `SATURATED_CPU_SECONDS` consecutive samples."""
    if health is None or health.empty or health["cpu_percent"].isna().all():
        return [], None
    over = health["cpu_percent"].fillna(0) > SATURATED_CPU_PERCENT
    run_id = (
        over != over.groupby(health["worker"], observed=True).shift(fill_value=False)
    ).cumsum()
    runs = over[over].groupby([health["worker"][over], run_id[over]], observed=True).size()
    reasons = []
    for worker, longest in runs.groupby(level=0, observed=True).max().items():
        if longest >= SATURATED_CPU_SECONDS:
            reasons.append(f"worker {worker} above {SATURATED_CPU_PERCENT:g}% CPU for {longest} s")
    return reasons, float(health["cpu_percent"].max())


def trust_of(run: RunData) -> Trust:
    frame = run.requests
    outcome = frame["outcome"].to_numpy()
    lag = frame["lag_us"].to_numpy()
    sent_lag = np.maximum(lag[(outcome != DROPPED) & (lag != -1)], 0)
    lag_p99 = percentiles_of(sent_lag, [99.0])[0] / 1e6 if len(sent_lag) else math.nan
    dropped = float((outcome == DROPPED).mean()) if len(outcome) else math.nan
    if run.streamed is not None:  # the bounded-memory report (#17): from its aggregates
        lag_p99 = run.streamed.send_lag_p99_s
        lag_p99 = math.nan if lag_p99 is None else lag_p99
        dropped = math.nan if run.streamed.dropped_rate is None else run.streamed.dropped_rate
    reasons, max_cpu = cpu_saturation(run.health)
    if not math.isnan(lag_p99) and lag_p99 > _SEND_LAG_P99_LIMIT_S:
        reasons.append(
            f"send lag p99 {_ms(lag_p99)} ms (limit {_SEND_LAG_P99_LIMIT_S * 1000:g} ms)"
        )
    if not math.isnan(dropped) and dropped > MAX_DROPPED_FRACTION:
        reasons.append(f"{dropped:.2%} of requests dropped (limit {MAX_DROPPED_FRACTION:.1%})")
    reasons += _live_only(run.manifest.untrustworthy, reasons)  # lost workers, ...
    return Trust(
        reasons=tuple(dict.fromkeys(reasons)),
        send_lag_p99_s=None if math.isnan(lag_p99) else float(lag_p99),
        dropped_rate=None if math.isnan(dropped) else dropped,
        max_cpu_percent=max_cpu,
    )


#: topics both the report and the master judge: the report's exact figure wins
_SHARED_TOPICS = ("send lag p99", "of requests dropped")


def _live_only(live: list[str], own: list[str]) -> list[str]:
    """The master's live reasons minus those the report states itself with exact figures
    (a send lag p99 listed twice, once per figure, reads as two problems)."""
    covered = {t for t in _SHARED_TOPICS if any(t in r for r in own)}
    return [r for r in live if not any(t in r for t in covered)]


def _ms(seconds: float) -> str:
    """Milliseconds precise enough that a breach never reads as the limit ("50.4", not "50")."""
    ms = seconds * 1000
    return f"{ms:.1f}" if ms < 100 else f"{ms:,.0f}"


UNJUDGED_FAILED_SHARE = 0.01  # above this failed share, a run judged without it says so


def unjudged_failures(thresholds: Sequence[Any], values: Mapping[str, float]) -> list[str]:
    """A service level of latency alone passes a run whose requests fail fast (refused
    connections, an instant 500): say what share failed when no rule judges failures."""
    if any(t.metric in ("success_rate", "error_rate") for t in thresholds):
        return []
    failed = 1.0 - values.get("success_rate", math.nan)
    if not failed > UNJUDGED_FAILED_SHARE:  # NaN (no requests) says nothing either
        return []
    return [
        f"{failed:.1%} of requests failed or were dropped, and no threshold judges that "
        "(add e.g. success_rate >= 99%)"
    ]


def run_notes(manifest: Manifest) -> list[str]:
    abort = manifest.abort
    if abort is None:
        return []
    detail = f": {abort.reason}" if abort.reason else ""
    return [f"the run was aborted early by {abort.by.value}{detail}"]


def decide(
    run: RunData,
    whole_run: pd.Series,
    *,
    regressions: Sequence[str] = (),
    regressions_fail: bool = False,
    by_endpoint: Mapping[str, Mapping[str, float]] | None = None,
) -> Verdict:
    """Evaluate the schedule's thresholds on the whole run and judge trust; rules scoped
    to an endpoint read `by_endpoint` (`analysis.endpoints.endpoint_metrics`)."""
    values = metric_values(whole_run, run.duration_s)
    checks = tuple(evaluate(run.thresholds, values, by_endpoint))
    trust = trust_of(run)
    if not trust.trustworthy:
        status = VerdictStatus.UNTRUSTWORTHY
    elif not all(c.passed for c in checks) or (regressions_fail and regressions):
        status = VerdictStatus.FAILED
    else:
        status = VerdictStatus.PASSED
    forced = ending_status(run.manifest, list(run.incomplete))  # never pass a cut-short run
    if forced == "incomplete":
        status = VerdictStatus.INCOMPLETE
    elif forced == "interrupted":
        status = VerdictStatus.INTERRUPTED
    elif forced == "aborted" and status is VerdictStatus.PASSED:
        status = VerdictStatus.FAILED  # an abort_on_fail threshold ended it
    shown_regressions = tuple(regressions) if regressions_fail else ()
    notes = run_notes(run.manifest)
    if by_endpoint is not None:
        notes += unknown_endpoints(run.thresholds, by_endpoint)
    notes += unjudged_failures(run.thresholds, values)
    if regressions and not regressions_fail:
        notes.append(f"{len(regressions)} regression(s) against the baseline (not gating)")
    return Verdict(status, checks, trust, shown_regressions, tuple(notes), run.incomplete)
