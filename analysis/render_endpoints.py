"""The per-endpoint and failure tables as Markdown lines and CSV text (no computing here:
`analysis.endpoints` made the numbers; `analysis.render` writes the files)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from surge.analysis.endpoints import (
    ENDPOINT_COLUMNS,
    ENDPOINT_STAGE_COLUMNS,
    FAILURE_COLUMNS,
    EndpointViews,
)

ENDPOINTS_FILE = "endpoints.csv"
ENDPOINT_STAGES_FILE = "endpoint_stages.csv"
FAILURES_FILE = "failures.csv"
MAX_MARKDOWN_FAILURES = 10  # summary.md stays short enough for a pull-request comment
MAX_MARKDOWN_ENDPOINTS = 20  # the busiest ones; endpoints.csv has all


def csv_files(views: EndpointViews | None) -> dict[str, str]:
    """File name -> CSV text: endpoints, their stages, failures (stages joined by ';')."""
    if views is None:
        return {}
    failures = views.failures[list(FAILURE_COLUMNS)].assign(
        stages=[";".join(str(s) for s in x) for x in views.failures["stages"]]
    )
    return {
        ENDPOINTS_FILE: views.table[list(ENDPOINT_COLUMNS)].to_csv(index=False),
        ENDPOINT_STAGES_FILE: views.by_stage[list(ENDPOINT_STAGE_COLUMNS)].to_csv(index=False),
        FAILURES_FILE: failures.to_csv(index=False),
    }


def stages_by_endpoint(s: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """summary.json's endpoint_stages grouped for the HTML's expandable rows."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in s.get("endpoint_stages", []):
        out[row["endpoint"]].append(row)
    return dict(out)


def markdown_lines(s: dict[str, Any], lat: Any, num: Any, pct: Any) -> list[str]:
    """The endpoint table and the top failures, with the formatters of `analysis.render`."""
    lines: list[str] = []
    endpoints = sorted(s.get("endpoints") or [], key=lambda e: -e["requests"])
    shown = sorted(endpoints[:MAX_MARKDOWN_ENDPOINTS], key=lambda e: e["endpoint"])
    if shown:
        lines += [
            "",
            "| endpoint | requests | sent/s | answered/s | ok | rejected | error | timeout "
            "| dropped | p50 | p95 | p99 | max | p95 uncorr. | p99 uncorr. |",
            "|---|" + "---:|" * 14,
        ]
        for e in shown:
            lines.append(
                f"| `{e['endpoint']}` | {e['requests']:,} | {num(e['sent_rps'])} "
                f"| {num(e['achieved_rps'])} | {e['ok']:,} | {e['rejected']:,} | {e['error']:,} "
                f"| {e['timeout']:,} | {e['dropped']:,} | {lat(e['p50'])} | {lat(e['p95'])} "
                f"| {lat(e['p99'])} | {lat(e['max'])} | {lat(e['p95_uncorrected'])} "
                f"| {lat(e['p99_uncorrected'])} |"
            )
        total = (s.get("listed") or {}).get("endpoints", len(endpoints))
        if total > len(shown):
            lines.append(f"\nThe {len(shown)} busiest of {total:,} endpoints; all in endpoints.csv")
    failures = s.get("failures") or []
    if failures:
        lines += [
            "",
            "| endpoint | status | error type | count | share | first seen | last seen | stages |",
            "|---|---:|---|---:|---:|---:|---:|---|",
        ]
        for f in failures[:MAX_MARKDOWN_FAILURES]:
            kind = f["outcome"] + (", throttled" if f["throttled"] else "")
            lines.append(
                f"| `{f['endpoint']}` | {f['status'] or ''} | {_cell(f['error_type'])} ({kind}) "
                f"| {f['count']:,} | {pct(f['share'])} | {f['first_s']:.1f} s "
                f"| {f['last_s']:.1f} s | {', '.join(str(x) for x in f['stages'])} |"
            )
        total = (s.get("listed") or {}).get("failures", len(failures))
        if total > MAX_MARKDOWN_FAILURES:
            lines.append(f"\n{total - MAX_MARKDOWN_FAILURES:,} more in failures.csv")
    return lines


def _cell(text: str) -> str:
    """A Markdown table cell: pipes escaped, no line breaks."""
    return " ".join(str(text).split()).replace("|", "\\|")
