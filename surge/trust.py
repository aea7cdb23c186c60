"""When generator numbers can be trusted, and how outcome rates are computed: one owner.

The master judges trust live (`locustfiles.fleet`, ``status.json``, the manifest), the
report judges it again on the whole run (`analysis.verdict`), and the web UI shows it
(it gets these limits from ``status.json``, never from copies in JavaScript). All three
read the limits and the rate formulas here, so they cannot drift apart.
"""

from __future__ import annotations

import enum
from typing import Any

#: a worker above this CPU ...
SATURATED_CPU_PERCENT = 90.0
#: ... for this many consecutive one-second samples is saturated
SATURATED_CPU_SECONDS = 5
#: p99 of (actual - intended send time) above this: the generator fell behind
MAX_SEND_LAG_P99_US = 50_000
#: more than this fraction of requests never sent (dropped)
MAX_DROPPED_FRACTION = 0.001
#: a worker waiting for a CPU this much of a sample: the machine is overloaded (others' load)
OVERLOADED_CPU_WAIT_PERCENT = 10.0

#: outcomes that count as served: a 409 sold-out ("rejected") is a correct business answer
SUCCESS_OUTCOMES = ("ok", "rejected")
#: outcomes that count as errors
ERROR_OUTCOMES = ("error", "timeout")


def successful(counts: Any) -> Any:
    """Requests answered as the target meant (ok + rejected): ``rps``/achieved's numerator.

    `counts` is indexed by outcome name, as in `outcome_rates`.
    """
    return sum(counts[o] for o in SUCCESS_OUTCOMES)


def outcome_rates(counts: Any, total: Any) -> dict[str, Any]:
    """``success_rate``, ``error_rate`` and ``dropped_rate`` from outcome counts.

    `counts` is indexed by outcome name: a Counter of the master's live window (numbers
    out) or a DataFrame of count columns in the report (Series out); `total` likewise.
    """
    return {
        "success_rate": successful(counts) / total,
        "error_rate": sum(counts[o] for o in ERROR_OUTCOMES) / total,
        "dropped_rate": counts["dropped"] / total,
    }


class ThresholdState(enum.Enum):
    """A threshold's live state on the master (status.json, /metrics, the web UI)."""

    PASSING = "passing"
    FAILING = "failing"
    ABORTING = "aborting"
    #: a rule scoped to an endpoint that has had no request in the window: not judged,
    #: so neither passing nor failing (a typo in a name must not look green)
    NO_DATA = "no_data"

    @property
    def label(self) -> str:
        return "no data yet" if self is ThresholdState.NO_DATA else self.value

    @property
    def tone(self) -> str:
        return _THRESHOLD_TONES[self]


_THRESHOLD_TONES = {
    ThresholdState.PASSING: "ok",
    ThresholdState.FAILING: "warn",
    ThresholdState.ABORTING: "bad",
    ThresholdState.NO_DATA: "",
}


def threshold_states() -> dict[str, dict[str, str]]:
    """Every threshold state as ``status.json`` carries it to the web UI: label and tone."""
    return {s.value: {"label": s.label, "tone": s.tone} for s in ThresholdState}


def limits() -> dict[str, float]:
    """The limits as ``status.json`` carries them to the web UI."""
    return {
        "saturated_cpu_percent": SATURATED_CPU_PERCENT,
        "saturated_cpu_seconds": SATURATED_CPU_SECONDS,
        "max_send_lag_p99_ms": MAX_SEND_LAG_P99_US / 1000,
        "max_dropped_fraction": MAX_DROPPED_FRACTION,
    }
