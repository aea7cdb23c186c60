"""The report's "Scenario errors": exceptions the scenario's own code raised.

They are not requests, so no record, figure or threshold shows them; a scenario that
fails half its tasks can otherwise pass with a fine success rate. The workers count them
per (task, exception type) and the master writes the sums into the manifest
(`surge.manifest.ScenarioError`, `locustfiles.scenario_errors`); this module only
shapes them for summary.json, summary.md and index.html.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from surge.manifest import ScenarioError

CONSEQUENCE = (
    "not requests, so no figure or threshold counts them, and each failed task's "
    "later requests were never sent"
)


def summary_rows(errors: Sequence[ScenarioError]) -> list[dict[str, Any]]:
    """summary.json's ``scenario_errors``: one row per (task, type), most frequent first."""
    return [e.to_dict() for e in errors]


def headline(rows: Sequence[dict[str, Any]]) -> str | None:
    """``1,204 exceptions in 2 tasks (checkout, browse)``; None without any."""
    if not rows:
        return None
    total = sum(int(r["count"]) for r in rows)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    word = "exception" if total == 1 else "exceptions"
    where = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
    return f"{total:,} {word} in {where} ({', '.join(tasks)})"


def markdown_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """summary.md's line and table (nothing when the scenario raised nothing)."""
    text = headline(rows)
    if text is None:
        return []
    lines = ["", f"**Scenario errors:** {text}: {CONSEQUENCE}.", ""]
    lines += ["| task | exception | count | first message |", "|---|---|---:|---|"]
    for r in rows:
        example = str(r.get("example") or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{r['task']}` | {r['error']} | {int(r['count']):,} | {example} |")
    return lines
