"""The report's charts label their axes in the report's units."""

from __future__ import annotations

import base64

import pandas as pd

from surge.analysis import charts


def _svg(uri: str) -> str:
    return base64.b64decode(uri.split(",", 1)[1]).decode()


def test_short_log_latency_axis_labels_minor_ticks_in_ms_not_powers_of_ten() -> None:
    # one hold stage whose latencies span less than a decade (a healthy smoke run)
    stages = pd.DataFrame(
        {
            "steady": [True],
            "requests": [100],
            "offered_rps": [10.0],
            "p50": [0.0016],
            "p95": [0.0048],
            "p99": [0.0068],
            "max": [0.0070],
        }
    )
    svg = _svg(charts.load_chart(stages, slo_s=1.0, knee_rps=10.0))
    assert "10^" not in svg and "\\times" not in svg and "\u00d7" not in svg
    assert "2 ms" in svg and "5 ms" in svg and "10 ms" in svg
