"""pandas reports from a run directory: timelines, stages, the knee, verdict, cost.

Data flow, one module per step (read them in this order)::

    loading      run directory -> RunData (manifest, stages, thresholds, requests frame)
    percentiles  exact nearest-rank percentiles per group, from one sort
    metrics      per-group outcome counts, rates and latency percentiles
    timeline     per-second timeline (offered, sent, achieved, outcomes, latency)
    stages       per-stage table over steady-state windows
    knee         the highest rate meeting the service level, and what broke first
    verdict      thresholds on the whole run, trust checks, exit code
    compare      per-stage deltas against a baseline run
    cost         fleet cost and serverless-vs-servers formulas
    charts       matplotlib figures from aggregates, as embedded images
    render       index.html, summary.md, summary.json, junit.xml, CSVs
    report       `build_report`: the whole chain, used by `surge report` and `surge run`
"""

from surge.analysis.report import Report, build_report
from surge.analysis.verdict import Verdict, VerdictStatus

__all__ = ["Report", "Verdict", "VerdictStatus", "build_report"]
