"""The master's per-second, per-endpoint samples: the one store of live endpoint seconds.

Workers send, once a second, each endpoint's outcome counts and latency histograms
(`locustfiles.endpoints.summarise`, the ``endpoints`` key of a health report). The
master adds them here per second and per endpoint (`EndpointSeconds`, held by
`live_metrics.LiveMetrics`, which the `FleetController` owns), and two readers take
windows of the last seconds: live thresholds scoped to one endpoint
(``p95{name=...} < 1s``) and the web UI's endpoint table ("the last 5 s"). A window has
the same fields as the fleet-wide one, so one metric function evaluates both: counts
and histograms are added, percentiles are read from the merged buckets, never averaged.

Workers key endpoints as the report does: method + request name
(``POST /products/{id}/buy``, `endpoints.endpoint_label`), and send each one's
``method`` and ``name`` beside its figures. A scoped rule naming an endpoint
(``GET /x``) holds for that endpoint alone, not for ``POST /x``; a rule naming only a
request name (``/x``) holds for every method of that name together (their counts and
histograms merged), dropped requests of that name included.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from surge.locustfiles.histogram import from_message

KEEP_SECONDS = 120  # per-second samples kept: more than any live window


@dataclass
class Window:
    """A merged sample of one second or window, of the fleet or of one endpoint: counts
    and histograms added over workers, what `FleetController._metric` reads."""

    outcomes: collections.Counter = field(default_factory=collections.Counter)
    corrected: collections.Counter = field(default_factory=collections.Counter)
    uncorrected: collections.Counter = field(default_factory=collections.Counter)
    sent: int = 0

    def add(self, figures: dict[str, Any]) -> None:
        for key, count in (figures.get("outcomes") or {}).items():
            outcome = str(key).partition("|")[0]  # "<outcome>|<error type>"
            self.outcomes[outcome] += int(count)
            if outcome != "dropped":
                self.sent += int(count)
        self.corrected.update(from_message(figures.get("hist_corrected")))
        self.uncorrected.update(from_message(figures.get("hist_uncorrected")))

    def merge(self, other: Window) -> None:
        self.outcomes.update(other.outcomes)
        self.corrected.update(other.corrected)
        self.uncorrected.update(other.uncorrected)
        self.sent += other.sent


def matches(rule_name: str, label: str, name: str | None = None) -> bool:
    """Does a worker's endpoint (`label`, e.g. ``GET /x``, whose request name is
    `name`, ``/x``) belong to what a rule names: that endpoint, or every method of the
    request name? Exact strings only: request names may hold spaces (``sign in``)."""
    return rule_name == label or (name is not None and rule_name == name)


class EndpointSeconds:
    """Per second, per endpoint label: the fleet's merged counts and histograms."""

    def __init__(self) -> None:
        self._seconds: dict[int, dict[str, Window]] = {}
        #: every endpoint label seen in the run -> its request name (None: not sent, OTHER)
        self.labels: dict[str, str | None] = {}

    def add(self, second: int, endpoints: dict[str, dict[str, Any]] | None) -> None:
        """One worker's ``endpoints`` figures for the second starting at `second`."""
        if not endpoints:
            return
        slot = self._seconds.setdefault(second, {})
        for label, figures in endpoints.items():
            slot.setdefault(label, Window()).add(figures)
            if self.labels.get(label) is None:
                self.labels[label] = figures.get("name")
        for old in [s for s in self._seconds if s < second - KEEP_SECONDS]:
            del self._seconds[old]

    def window(self, rule_name: str, last: int, seconds: int) -> Window | None:
        """The endpoint's merged sample over seconds last-seconds+1 .. last (None: no
        request of it in that time, so nothing to judge)."""
        merged, seen = Window(), False
        for label, sample in self.recent(last, seconds).items():
            if matches(rule_name, label, self.labels.get(label)):
                merged.merge(sample)
                seen = True
        return merged if seen else None

    def recent(self, last: int, seconds: int) -> dict[str, Window]:
        """Every label's merged sample over seconds last-seconds+1 .. last."""
        merged: dict[str, Window] = {}
        for s in range(last - seconds + 1, last + 1):
            for label, sample in self._seconds.get(s, {}).items():
                merged.setdefault(label, Window()).merge(sample)
        return merged

    def unknown(self, rule_names: set[str]) -> list[str]:
        """Rule names that matched no endpoint during the whole run."""
        known = self.labels.items()
        return sorted(n for n in rule_names if not any(matches(n, x, y) for x, y in known))
