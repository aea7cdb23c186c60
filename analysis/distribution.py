"""Whole-run latency histogram on log-spaced bins: an aggregate the charts can draw.

The chart needs the shape of the distribution, not 10 million points, so latency is
binned once (O(n), no sort). Exact percentiles come from `analysis.percentiles`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from surge.analysis.loading import DROPPED

BINS_PER_DECADE = 20
MIN_LATENCY_US = 100  # 0.1 ms: anything faster lands in the first bin


def latency_histogram(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts of corrected and uncorrected latency per log bin (sent requests only)."""
    sent = frame["outcome"].to_numpy() != DROPPED
    corrected = frame["latency_us"].to_numpy()[sent]
    service = frame["service_us"].to_numpy()[sent]
    service = service[service >= 0]
    top = max(int(corrected.max()) if len(corrected) else 1, MIN_LATENCY_US * 10)
    decades = np.log10(top / MIN_LATENCY_US)
    edges = MIN_LATENCY_US * np.logspace(0, decades, int(np.ceil(decades * BINS_PER_DECADE)) + 1)
    edges[-1] = top + 1
    c, _ = np.histogram(np.clip(corrected, MIN_LATENCY_US, None), bins=edges)
    u, _ = np.histogram(np.clip(service, MIN_LATENCY_US, None), bins=edges)
    return pd.DataFrame(
        {"lo_s": edges[:-1] / 1e6, "hi_s": edges[1:] / 1e6, "corrected": c, "uncorrected": u}
    )
