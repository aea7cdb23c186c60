"""Exceptions raised by the scenario's own code, counted per (task, exception type).

A task that raises (a `KeyError` on a response, a request to a host outside
`allow_hosts`) is not a request: nothing of it reaches the records, and the task's later
requests are never sent. Before, the only trace was a log line per distinct message
(the dispatcher's ``_log_once``), found after the run by scanning logs. Now each worker
counts them from Locust's ``user_error`` event (the dispatcher fires it for every task
failure), sends the counts since its last report in its health message
(``scenario_errors``), and the master adds them up into the manifest
(`surge.manifest.ScenarioError`), where the report and ``surge run`` read them.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any

from surge.locustfiles.context import CURRENT_ARRIVAL
from surge.locustfiles.tasks import task_name
from surge.manifest import ScenarioError

#: distinct (task, type) pairs kept; later new ones count under `OTHER` (a scenario that
#: raises a new type per request must not grow messages and the manifest without bound)
MAX_KINDS = 50
OTHER = ("(other tasks)", "(other exceptions)")
OUTSIDE_A_TASK = "(outside a task)"  # on_stop, or Locust firing the event itself
MAX_EXAMPLE_CHARS = 200


class ScenarioErrorCounter:
    """The worker's side: a ``user_error`` listener and the counts since the last take."""

    def __init__(self) -> None:
        self._new: collections.Counter[tuple[str, str]] = collections.Counter()
        self._examples: dict[tuple[str, str], str] = {}

    def on_user_error(self, user_instance: Any = None, exception: Any = None, **_: Any) -> None:
        arrival = CURRENT_ARRIVAL.get()
        task = OUTSIDE_A_TASK if arrival is None else task_name(arrival.task)
        key = (task, type(exception).__name__)
        if key not in self._examples:
            if len(self._examples) >= MAX_KINDS:
                key = OTHER
            text = f"{type(exception).__name__}: {exception}"
            self._examples.setdefault(key, text[:MAX_EXAMPLE_CHARS])
        self._new[key] += 1

    def take(self) -> list[dict[str, Any]]:
        """Counts since the last call, as the health message carries them."""
        new, self._new = self._new, collections.Counter()
        return [
            {"task": task, "error": error, "count": n, "example": self._examples[(task, error)]}
            for (task, error), n in new.items()
        ]


class ScenarioErrorTotals:
    """The master's side: the fleet's counts, summed from the workers' health messages."""

    def __init__(self) -> None:
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._examples: dict[tuple[str, str], str] = {}

    def add(self, rows: Iterable[Mapping[str, Any]] | None) -> None:
        for row in rows or ():
            key = (str(row.get("task", "")), str(row.get("error", "")))
            if key not in self._counts and len(self._counts) >= MAX_KINDS:
                key = OTHER
            self._counts[key] += int(row.get("count") or 0)
            self._examples.setdefault(key, str(row.get("example") or ""))

    def manifest_rows(self) -> list[ScenarioError]:
        """Every (task, type) with its count, the most frequent first."""
        return [
            ScenarioError(task, error, n, self._examples.get((task, error), ""))
            for (task, error), n in self._counts.most_common()
        ]
