"""Comparison with a baseline run: per-stage deltas, regressions flagged against a tolerance.

Stages are matched by index over the steady stages both runs have. A stage
regressed when its achieved throughput fell, or its p95/p99 rose, by more than the
tolerance (relative; latency changes under `LATENCY_NOISE_FLOOR_S` are noise), or its
success rate fell by more than `SUCCESS_TOLERANCE` (absolute).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from surge.analysis.stages import steady

DEFAULT_TOLERANCE = 0.10  # 10 % worse throughput or latency is a regression
SUCCESS_TOLERANCE = 0.01  # one percentage point less success is a regression
LATENCY_NOISE_FLOOR_S = 0.005  # a 2 ms -> 3 ms p95 is +50 % but not a regression

COMPARED = ("offered_rps", "achieved_rps", "p95", "p99", "success_rate")


@dataclass(frozen=True)
class Comparison:
    baseline_run_id: str
    tolerance: float
    stages: pd.DataFrame  # one row per matched stage, current / baseline / delta columns
    regressions: tuple[str, ...]
    knee_rps: float | None
    baseline_knee_rps: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_run_id": self.baseline_run_id,
            "tolerance": self.tolerance,
            "success_tolerance": SUCCESS_TOLERANCE,
            "knee_rps": self.knee_rps,
            "baseline_knee_rps": self.baseline_knee_rps,
            "regressions": list(self.regressions),
            "stages": _records(self.stages),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _relative(now: pd.Series, before: pd.Series) -> pd.Series:
    return (now - before) / before.where(before != 0)


def stage_deltas(current: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """Matched steady stages with `<col>`, `<col>_baseline` and delta columns."""
    cols = ["stage", *COMPARED]
    merged = steady(current)[cols].merge(
        steady(baseline)[cols], on="stage", suffixes=("", "_baseline"), how="inner"
    )
    return merged.assign(
        achieved_delta=_relative(merged["achieved_rps"], merged["achieved_rps_baseline"]),
        p95_delta=_relative(merged["p95"], merged["p95_baseline"]),
        p99_delta=_relative(merged["p99"], merged["p99_baseline"]),
        success_delta=merged["success_rate"] - merged["success_rate_baseline"],
    )


def flag_regressions(deltas: pd.DataFrame, tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """Add `regression`: what got worse in each stage beyond the tolerance ('' if nothing)."""
    flags = []
    for row in deltas.to_dict("records"):
        worse = []
        if row["achieved_delta"] < -tolerance:
            worse.append(f"throughput {row['achieved_delta']:+.1%}")
        for col in ("p95", "p99"):
            grew = row[col] - row[f"{col}_baseline"]
            if row[f"{col}_delta"] > tolerance and grew > LATENCY_NOISE_FLOOR_S:
                worse.append(f"{col} {row[f'{col}_delta']:+.1%}")
        if row["success_delta"] < -SUCCESS_TOLERANCE:
            worse.append(f"success {row['success_delta'] * 100:+.2f} pp")
        flags.append(", ".join(worse))
    return deltas.assign(regression=flags)


def compare(
    current: pd.DataFrame,
    baseline: pd.DataFrame,
    *,
    baseline_run_id: str,
    knee_rps: float | None,
    baseline_knee_rps: float | None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Comparison:
    """Compare two stage tables (from `analysis.stages.stage_table`)."""
    frame = stage_deltas(current, baseline).pipe(flag_regressions, tolerance)
    regressions = tuple(
        f"stage {int(r['stage']) + 1} ({r['offered_rps']:g} req/s): {r['regression']}"
        for r in frame.to_dict("records")
        if r["regression"]
    )
    return Comparison(
        baseline_run_id=baseline_run_id,
        tolerance=tolerance,
        stages=frame,
        regressions=regressions,
        knee_rps=knee_rps,
        baseline_knee_rps=baseline_knee_rps,
    )
