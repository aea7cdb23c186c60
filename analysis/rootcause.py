"""What broke first, in one sentence a manager can repeat, in the run's own words.

The knee (`analysis.knee`) finds the first steady stage that missed the service level
and its cause. This module says *where*: the endpoint(s) that failed in that stage,
what share of their requests failed, the failure type as the target named it (the
``error`` column: ``ProvisionedThroughputExceededException``, ``HTTP 502`` ...), and
which endpoints were fine meanwhile. Endpoint names and failure types come from the
records, never from knowledge of a particular shop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from surge.analysis.endpoints import Endpoints
from surge.analysis.knee import Cause, Knee
from surge.analysis.loading import DROPPED, REJECTED, TIMEOUT, RunData
from surge.analysis.stages import window_codes
from surge.locustfiles.error_types import shown_type
from surge.thresholds import Threshold, parse_scoped_rule

#: endpoints named as culprits: the worst, plus any with at least this share of its failures
CO_CULPRIT_SHARE = 0.5
MAX_CULPRITS = 2


@dataclass(frozen=True)
class Culprit:
    """One endpoint that failed in the breaking stage."""

    endpoint: str
    failed: int
    requests: int
    error_type: str  # the most frequent failure type
    status: int  # its most frequent status
    throttled: bool  # most of its failures were throttling
    outcome: int  # the most frequent failed outcome code

    @property
    def share(self) -> float:
        return self.failed / self.requests if self.requests else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "failed": self.failed,
            "requests": self.requests,
            "share": self.share,
            "error_type": self.error_type,
            "status": self.status,
            "throttled": self.throttled,
        }


def percent(share: float) -> str:
    """2.7 %, 0.04 %, 100 %: enough digits to be non-zero, no more."""
    value = share * 100
    if value >= 10 or value == 0:
        return f"{value:.0f} %"
    return f"{value:.1f} %" if value >= 0.1 else f"{value:.2g} %"


def latency_words(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.1f} s"
    ms = seconds * 1000
    return f"{math.ceil(ms)} ms" if ms >= 1 else f"{ms:.1f} ms"


def culprits(run: RunData, endpoints: Endpoints, stages: pd.DataFrame, stage: int) -> list[Culprit]:
    """Endpoints with failed requests (error, timeout, dropped) in `stage`'s measured
    window, most failures first."""
    if run.streamed is not None:  # the bounded-memory report (#17): from its aggregates
        from surge.analysis.streamed_report import streamed_culprits

        return _pick([Culprit(**c) for c in streamed_culprits(run.streamed, stages, stage)])
    position = np.flatnonzero(stages["stage"].to_numpy() == stage)
    if not len(position):
        return []
    frame = run.requests
    inside = window_codes(frame, stages) == position[0]
    outcome = frame["outcome"].to_numpy()
    failed = inside & (outcome > REJECTED)
    if not failed.any():
        return []
    texts = list(frame["error"].cat.categories)
    part = pd.DataFrame(
        {
            "code": endpoints.codes[failed],
            "outcome": outcome[failed],
            "status": frame["status"].to_numpy()[failed],
            "error": frame["error"].cat.codes.to_numpy()[failed],
            "throttled": frame["throttled"].to_numpy()[failed],
        }
    )
    requests = np.bincount(endpoints.codes[inside], minlength=len(endpoints.labels))
    out = []
    for code, rows in part.groupby("code"):
        common = rows.groupby(["outcome", "status", "error"]).size().idxmax()
        kind, status, error = (int(x) for x in common)
        out.append(
            Culprit(
                endpoint=endpoints.labels[int(code)],
                failed=len(rows),
                requests=int(requests[int(code)]),
                error_type=shown_type(texts[error] if error >= 0 else None, status),
                status=status,
                throttled=bool(rows["throttled"].mean() > 0.5),
                outcome=kind,
            )
        )
    return _pick(out)


def _pick(out: list[Culprit]) -> list[Culprit]:
    """The worst endpoint, and those with at least `CO_CULPRIT_SHARE` of its failures."""
    if not out:
        return []
    out.sort(key=lambda c: (-c.failed, c.endpoint))
    worst = out[0].failed
    return [c for c in out if c.failed >= CO_CULPRIT_SHARE * worst][:MAX_CULPRITS]


def _reason(c: Culprit, timeout_s: float | None) -> str:
    shown = c.error_type
    if c.status and not shown.startswith("HTTP"):
        shown = f"{shown}, HTTP {c.status}"
    if c.throttled:
        return f"the target throttled them ({shown})"
    if c.outcome == TIMEOUT:
        limit = f" within the {latency_words(timeout_s)} timeout" if timeout_s else ""
        return f"no answer came{limit}"
    if c.outcome == DROPPED:
        return "the generators could not send them in time (dropped)"
    return f"the target answered with an error ({shown})"


def _healthy(
    endpoint_stages: pd.DataFrame, stage: int, named: set[str], limits: Sequence[Threshold] = ()
) -> str:
    """`GET /products and GET /x stayed within 4 ms (p95)`, for endpoints without failures
    and within the missed latency `limits` (one over them too is not "fine")."""
    rows = endpoint_stages[endpoint_stages["stage"] == stage + 1]
    fine = rows[
        ~rows["endpoint"].isin(named)
        & (rows["error"] + rows["timeout"] + rows["dropped"] == 0)
        & rows["p95"].notna()
    ]
    for limit in limits:
        within = [pd.isna(v) or limit.passes(float(v)) for v in fine[limit.metric]]
        fine = fine.loc[np.asarray(within, dtype=bool)]  # a bool mask even when empty
    if fine.empty:
        return ""
    names = sorted(fine["endpoint"])
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f" {listed} stayed within {latency_words(float(fine['p95'].max()))} (p95)."


def what_broke_first(
    run: RunData,
    knee: Knee,
    endpoints: Endpoints,
    stages: pd.DataFrame,
    endpoint_stages: pd.DataFrame,
    timeout_s: float | None = None,
) -> tuple[str | None, list[Culprit]]:
    """The sentence, and the endpoints it names; (None, []) when nothing broke."""
    broke = knee.broke
    if broke is None:
        return None, []
    rate = f"At {broke.offered_rps:,.0f} req/s"
    found = culprits(run, endpoints, stages, broke.stage)
    if broke.cause is not Cause.LATENCY and found:
        named = {c.endpoint for c in found}
        clauses = [
            f"{percent(c.share)} of {c.endpoint} requests failed: {_reason(c, timeout_s)}"
            for c in found
        ]
        return f"{rate}, " + "; ".join(clauses) + "." + _healthy(
            endpoint_stages, broke.stage, named
        ), found
    rows = endpoint_stages[endpoint_stages["stage"] == broke.stage + 1]
    missed = ", ".join(f"{c.rule} (measured {c.shown})" for c in broke.failed)
    if rows.empty or rows["p95"].isna().all():
        return f"{rate} the service level was missed: {missed}.", found
    slowest = rows.loc[rows["p95"].idxmax()]
    sentence = (
        f"{rate} the service level was missed ({missed}): {slowest['endpoint']} "
        f"slowed to p95 {latency_words(float(slowest['p95']))}."
    )
    limits = _latency_limits(broke.failed)
    return sentence + _healthy(endpoint_stages, broke.stage, {slowest["endpoint"]}, limits), found


def _latency_limits(failed: Any) -> list[Threshold]:
    """The whole-run latency rules the stage missed, for the columns the endpoint table has."""
    limits = []
    for check in failed:
        try:
            metric, op, value, name = parse_scoped_rule(check.rule)
        except ValueError:
            continue
        if name is None and metric in ("p50", "p90", "p95", "p99", "max"):
            limits.append(Threshold(metric, op, value))
    return limits
