"""Pass/fail rules (``p95 < 3s``, ``success_rate >= 99%``): parsed once, evaluated anywhere.

Values are held in base units: seconds for latency metrics, a fraction for rate
metrics, requests per second for ``rps``. Whoever evaluates a threshold (the
engine live, the analysis at the end) computes metrics in the same base units,
keyed by `Threshold.metric`.

A rule may be scoped to one endpoint (method + request name, as the report's
per-endpoint table names it): ``p95{name=POST /products/{id}/buy} < 500ms``, or the
mapping form's ``name:`` key. Live and in the report, a name without a method
(``p95{name=/products/{id}} < 500ms``) holds for every method of that request name
together; ``GET /x`` never counts ``POST /x``. Unscoped rules hold over every request.
"""

from __future__ import annotations

import enum
import operator
import re
from dataclasses import dataclass

from surge.units import format_duration, parse_duration, parse_fraction, parse_rps


class MetricKind(enum.Enum):
    LATENCY = "latency"  # seconds, corrected (from the intended send time)
    FRACTION = "fraction"  # 0..1
    RATE = "rate"  # requests per second


#: metric name -> (kind, percentile in 0..100 or None)
METRICS: dict[str, tuple[MetricKind, float | None]] = {
    "p50": (MetricKind.LATENCY, 50.0),
    "p90": (MetricKind.LATENCY, 90.0),
    "p95": (MetricKind.LATENCY, 95.0),
    "p99": (MetricKind.LATENCY, 99.0),
    "p999": (MetricKind.LATENCY, 99.9),
    "max": (MetricKind.LATENCY, 100.0),
    "avg": (MetricKind.LATENCY, None),
    "success_rate": (MetricKind.FRACTION, None),
    "error_rate": (MetricKind.FRACTION, None),
    "dropped_rate": (MetricKind.FRACTION, None),
    "rps": (MetricKind.RATE, None),
}

_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_RULE = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*(\S.*?)\s*$")
#: ``metric{name=ENDPOINT} op value``: the endpoint may contain braces (``{id}``), so the
#: selector ends at the last ``}`` before the operator
_SCOPED = re.compile(r"^\s*([a-z0-9_]+)\s*\{\s*name\s*=\s*(.*)\}\s*((?:<=|>=|<|>).*)$", re.S)


@dataclass(frozen=True)
class Threshold:
    """One rule. `for_s` is how long a breach must last before `abort_on_fail` acts."""

    metric: str
    op: str
    value: float
    abort_on_fail: bool = False
    for_s: float = 0.0
    #: the endpoint (method + request name) it holds for, or a bare request name (every
    #: method of it, live); None: all requests
    name: str | None = None

    @property
    def kind(self) -> MetricKind:
        return METRICS[self.metric][0]

    @property
    def percentile(self) -> float | None:
        return METRICS[self.metric][1]

    @property
    def rule(self) -> str:
        scope = f"{{name={self.name}}}" if self.name is not None else ""
        return f"{self.metric}{scope} {self.op} {format_value(self.kind, self.value)}"

    def passes(self, measured: float) -> bool:
        """True when the measured value (base units) satisfies the rule."""
        return bool(_OPERATORS[self.op](measured, self.value))

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "metric": self.metric,
            "op": self.op,
            "value": self.value,
            "abort_on_fail": self.abort_on_fail,
            "for_s": self.for_s,
            "name": self.name,
        }


def format_value(kind: MetricKind, value: float) -> str:
    """Render a base-unit value for people: ``3s``, ``99%``, ``500/s``."""
    if kind is MetricKind.LATENCY:
        return format_duration(value)
    if kind is MetricKind.FRACTION:
        return f"{value * 100:g}%"
    return f"{value:g}/s"


def split_scope(text: str) -> tuple[str, str | None]:
    """``p95{name=GET /x} < 1s`` -> (``p95 < 1s``, ``GET /x``); unscoped text unchanged.

    Raises ValueError for an empty endpoint name."""
    m = _SCOPED.match(text)
    if not m:
        return text, None
    metric, name, rest = m.groups()
    name = name.strip().strip("\"'").strip()
    if not name:
        raise ValueError("expected an endpoint after 'name=', like p95{name=GET /products} < 1s")
    return f"{metric} {rest}", name


def parse_rule(text: str) -> tuple[str, str, float]:
    """Parse ``p95 < 3s`` into (metric, operator, base-unit value). Raises ValueError."""
    m = _RULE.match(text)
    if not m:
        raise ValueError("expected '<metric> <op> <value>', like 'p95 < 3s'")
    metric, op, raw = m.groups()
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    kind = METRICS[metric][0]
    if kind is MetricKind.LATENCY:
        value = parse_duration(raw)
    elif kind is MetricKind.FRACTION:
        if not raw.endswith("%") and not re.fullmatch(r"0?\.\d+|[01](\.0+)?", raw):
            raise ValueError(f"{raw!r} needs a unit: write a percentage like 99%")
        value = parse_fraction(raw)
    else:
        value = parse_rps(raw)
        if value < 0:
            raise ValueError("a rate cannot be negative")
    return metric, op, value


def parse_scoped_rule(text: str) -> tuple[str, str, float, str | None]:
    """`parse_rule` for a rule that may carry ``{name=ENDPOINT}``: adds the endpoint."""
    rule, name = split_scope(text)
    return (*parse_rule(rule), name)
