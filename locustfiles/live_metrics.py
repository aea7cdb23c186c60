"""The master's running totals by endpoint and by worker: for the view's table and /metrics.

`FleetController` keeps what the run's control needs (membership, thresholds, the
manifest) and owns one `LiveMetrics`, fed from its ``on_health``. This keeps
per-endpoint counts and latency histograms for the whole run (error types included)
and per second (`live_endpoints.EndpointSeconds`, the one store of live endpoint
seconds: the table's "last 5 s" and the live thresholds scoped to one endpoint both
read it), and each worker's latest health. It only ever adds counts.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from surge.locustfiles import histogram
from surge.locustfiles.endpoints import MAX_ERROR_TYPES, OTHER, EndpointNames
from surge.locustfiles.live_endpoints import EndpointSeconds, Window
from surge.trust import SUCCESS_OUTCOMES

WINDOW_S = 5  # seconds of per-endpoint samples behind the live table (as status.json's p95)


@dataclass
class EndpointTotals:
    """Counts and histograms of one endpoint (for the whole run, or one second)."""

    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (outcome, error type)
    corrected: Counter[int] = field(default_factory=Counter)
    uncorrected: Counter[int] = field(default_factory=Counter)
    sum_corrected_us: int = 0
    sum_uncorrected_us: int = 0

    def add(self, data: dict[str, Any], max_kinds: int | None = None) -> None:
        """Add one report; with `max_kinds`, new error types beyond it count as OTHER."""
        for key, count in data.get("outcomes", {}).items():
            outcome, _, kind = key.partition("|")
            new = bool(kind) and (outcome, kind) not in self.outcomes
            if new and max_kinds is not None and len({k for _, k in self.outcomes}) > max_kinds:
                kind = OTHER
            self.outcomes[(outcome, kind)] += int(count)
        self.corrected.update(histogram.from_message(data.get("hist_corrected")))
        self.uncorrected.update(histogram.from_message(data.get("hist_uncorrected")))
        self.sum_corrected_us += int(data.get("sum_corrected_us", 0))
        self.sum_uncorrected_us += int(data.get("sum_uncorrected_us", 0))

    def merge(self, other: EndpointTotals) -> None:
        self.outcomes.update(other.outcomes)
        self.corrected.update(other.corrected)
        self.uncorrected.update(other.uncorrected)
        self.sum_corrected_us += other.sum_corrected_us
        self.sum_uncorrected_us += other.sum_uncorrected_us

    @property
    def offered(self) -> int:
        """Every arrival that became a record, dropped ones included."""
        return sum(self.outcomes.values())

    @property
    def sent(self) -> int:
        return sum(c for (o, _), c in self.outcomes.items() if o != "dropped")

    @property
    def successful(self) -> int:
        return sum(c for (o, _), c in self.outcomes.items() if o in SUCCESS_OUTCOMES)

    def errors_by_type(self) -> dict[str, int]:
        errors: Counter[str] = Counter()
        for (outcome, kind), count in self.outcomes.items():
            if kind and outcome != "dropped":
                errors[kind] += count
        return dict(errors.most_common())


class LiveMetrics:
    """Everything the view's table and the Prometheus exposition read.

    Health messages arrive on the master's event loop while scrapes and page polls run
    in other greenlets (or a scrape thread): a lock keeps every read consistent.
    """

    def __init__(self) -> None:
        self.endpoints: dict[str, EndpointTotals] = {}
        #: per second, by the workers' own endpoint labels (method + name, as the report;
        #: scoped thresholds match those, or their request name)
        self.seconds = EndpointSeconds()
        self.workers: dict[str, dict[str, Any]] = {}  # worker id -> its latest health report
        self.late = 0
        self.dropped = 0
        self.health_reports = 0
        self.first_second: int | None = None  # of the first report: the window's start
        self._labels = EndpointNames()  # workers fold their own names; the union is bounded here
        self._lock = threading.Lock()

    def observe(self, data: dict[str, Any]) -> None:
        """One worker's ``surge_health`` report."""
        second = int(data.get("time_us", time.time() * 1e6) // 1_000_000)
        with self._lock:
            self.health_reports += 1
            if self.first_second is None or second < self.first_second:
                self.first_second = second
            self.late += int(data.get("late") or 0)
            self.dropped += int(data.get("dropped") or 0)
            self.workers[str(data.get("worker", "?"))] = {
                k: data.get(k) for k in (
                    "cpu_percent", "cpu_wait_percent", "send_lag_p99_us", "loop_lag_p99_us",
                    "in_flight", "done", "host",
                )
            }  # fmt: skip
            for raw, figures in (data.get("endpoints") or {}).items():
                name = self._labels.label(raw)
                self.endpoints.setdefault(name, EndpointTotals()).add(figures, MAX_ERROR_TYPES)
            self.seconds.add(second, data.get("endpoints"))

    def snapshot(self) -> tuple[dict[str, EndpointTotals], dict[str, dict[str, Any]]]:
        """Copies of the whole-run endpoint totals and the workers' latest health."""
        with self._lock:
            endpoints = {}
            for name, totals in self.endpoints.items():
                copy = EndpointTotals()
                copy.merge(totals)
                endpoints[name] = copy
            return endpoints, {w: dict(h) for w, h in self.workers.items()}

    def window(self, seconds: int = WINDOW_S, now: float | None = None) -> dict[str, Window]:
        """Per-endpoint samples of the last `seconds` complete seconds, by table name."""
        last = int(now if now is not None else time.time()) - 1
        merged: dict[str, Window] = {}
        with self._lock:
            for raw, sample in self.seconds.recent(last, seconds).items():
                # every stored label was seen by `observe`: the same table name as then
                merged.setdefault(self._labels.label(raw), Window()).merge(sample)
        return merged

    def endpoint_window(self, rule_name: str, last: int, seconds: int) -> Window | None:
        """The sample a threshold scoped to `rule_name` is judged on (None: no request)."""
        with self._lock:
            return self.seconds.window(rule_name, last, seconds)

    def unknown_endpoints(self, rule_names: set[str]) -> list[str]:
        """Threshold endpoint names that matched no request during the whole run."""
        with self._lock:
            return self.seconds.unknown(rule_names)

    def endpoint_table(self, *, final: bool, duration_s: float) -> list[dict[str, Any]]:
        """Rows for the view: the last `WINDOW_S` seconds while running, the whole run after."""
        whole, _ = self.snapshot()
        current: dict[str, EndpointTotals] | dict[str, Window] = whole if final else self.window()
        span = max(duration_s, 1e-9) if final else self.window_span()
        rows = []
        for name in sorted(whole, key=lambda n: (-whole[n].offered, n)):
            totals = whole[name]
            recent = current.get(name) or Window()
            rows.append({
                "endpoint": name,
                "rate_rps": round(recent.sent / span, 2),
                "p95_ms": _ms(recent.corrected, 95),
                "p99_ms": _ms(recent.corrected, 99),
                "requests": totals.offered,
                "errors": sum(totals.errors_by_type().values()),
                "errors_by_type": totals.errors_by_type(),
            })  # fmt: skip
        return rows

    def window_span(self, now: float | None = None) -> int:
        """Seconds the live window really covers: fewer than `WINDOW_S` at the start."""
        last = int(now if now is not None else time.time()) - 1
        if self.first_second is None:
            return WINDOW_S
        return max(1, min(WINDOW_S, last - self.first_second + 1))

    def whole_run(self, duration_s: float) -> dict[str, Any]:
        """The run's figures over its whole length: what the tiles show once it is over."""
        whole, _ = self.snapshot()
        total = EndpointTotals()
        for totals in whole.values():
            total.merge(totals)
        span = max(duration_s, 1e-9)
        return {
            "offered_rps": round(total.offered / span, 2),
            # "achieved" is answered successfully (as status.json and the report say it)
            "achieved_rps": round(total.successful / span, 2),
            "sent_rps": round(total.sent / span, 2),
            "p95_ms": _ms(total.corrected, 95),
            "p99_ms": _ms(total.corrected, 99),
            "p95_uncorrected_ms": _ms(total.uncorrected, 95),
            "p99_uncorrected_ms": _ms(total.uncorrected, 99),
            "duration_s": round(duration_s, 1),
        }


def _ms(hist: Counter[int], pct: float) -> float | None:
    value = histogram.percentile_us(hist, pct)
    return None if value is None else round(value / 1000.0, 2)


#: the master's accumulator (one run per Locust process), set by `install`
CURRENT: LiveMetrics | None = None


def install(live: LiveMetrics | None = None) -> LiveMetrics:
    """Make `live` (the controller's; a new one when None) this process's accumulator,
    the one the web UI reads (the engine calls it on a master or standalone)."""
    global CURRENT
    CURRENT = live if live is not None else LiveMetrics()
    return CURRENT
