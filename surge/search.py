"""Capacity search: the `load.search` block and the pure bisection that finds the knee.

A search schedule names no stages. The master holds one rate at a time (a *step*),
judges it against the service level (the schedule's thresholds), and picks the next
rate: raised geometrically while steps pass, then bisected between the highest
passing and the lowest failing rate until the bracket is within `resolution`, and
finally the candidate knee is held once more, because one lucky pass is not a
capacity. Between steps the rate drops to `from` (below the knee, or the search is
over) for a short recovery, so a failed step's backlog does not poison the next.

Everything here is pure: `KneeSearch` takes verdicts and answers rates, so the
decisions are tested without a target (tests/surge/test_search.py). The master's
side (timing, merged live data, plans) is `surge.locustfiles.search`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from surge.stages import Stage, StageKind
from surge.units import format_duration, parse_fraction

if TYPE_CHECKING:
    from surge.thresholds import Threshold

GROWTH = 2.0  # each passing step doubles the rate until one fails
#: the shortest hold the master can judge: half of it settles (the report's warm-up
#: rule: min(5 s, half the stage)), and the other half must hold at least two whole
#: one-second health samples of every worker
MIN_HOLD_S = 4.0
#: a recovery must outlast the step's last health samples (1 s), the judgement and the
#: plan's way to the workers (`RESPLIT_DELAY_S`); shorter would delay the next step
MIN_RECOVERY_S = 3.0
RECOVERY_FRACTION = 0.2  # default recovery: a fifth of the hold, at least MIN_RECOVERY_S
SETTLE_MAX_S = 5.0  # a step is judged after min(this, half the hold): the report's warm-up
MAX_RESOLUTION = 0.5
MAX_STEPS = 200  # a bound on the loop whatever the verdicts; max_duration ends it sooner
DEFAULT_HOLD_S = 30.0
DEFAULT_RESOLUTION = 0.05
DEFAULT_MAX_DURATION_S = 20 * 60.0
MAX_RATE = 10_000_000.0


class StepVerdict(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    #: the generators could not offer the rate (saturated CPU, send lag, dropped arrivals)
    GENERATORS = "generators"


class SearchEnd(enum.Enum):
    CONVERGED = "converged"  # the bracket is within resolution and the knee was confirmed
    ABOVE_MAX = "above max"  # `max` passed: the knee is above the test
    BELOW_FROM = "below from"  # `from` failed: the knee is below the test
    GENERATORS = "generators"  # the generators could not offer the next rate
    TIME = "max_duration"  # no time left for another step
    STOPPED = "stopped"  # the run ended before the search did (Ctrl-C, abort, lost master)


class Phase(enum.Enum):
    RAISE = "raise"
    BISECT = "bisect"
    CONFIRM = "confirm"
    DONE = "done"


@dataclass(frozen=True)
class SearchSpec:
    """`load.search`, validated. Rates are fleet-wide unless the schedule is per_worker."""

    from_rate: float
    max_rate: float
    hold_s: float = DEFAULT_HOLD_S
    resolution: float = DEFAULT_RESOLUTION
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    recovery_s: float | None = None
    require: float | None = None

    @property
    def recovery(self) -> float:
        if self.recovery_s is not None:
            return self.recovery_s
        return max(MIN_RECOVERY_S, self.hold_s * RECOVERY_FRACTION)

    @property
    def recovery_rate(self) -> float:
        """Between steps: `from`, below the knee whenever the search goes on."""
        return self.from_rate

    @property
    def settle_s(self) -> float:
        return min(SETTLE_MAX_S, self.hold_s / 2.0)

    def initial_stages(self) -> tuple[Stage, ...]:
        """The first step and an open recovery to max_duration: what every worker starts
        with, and keeps running if the master never says more."""
        return stages_for([(self.from_rate, 0.0)], self, finished=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_rate,
            "max": self.max_rate,
            "hold_s": self.hold_s,
            "resolution": self.resolution,
            "max_duration_s": self.max_duration_s,
            "recovery_s": self.recovery,
            "recovery_rate": self.recovery_rate,
            "settle_s": self.settle_s,
            "require": self.require,
        }

    def describe(self) -> str:
        return (
            f"{self.from_rate:g}/s .. {self.max_rate:g}/s, holds of "
            f"{format_duration(self.hold_s)}, resolution {self.resolution:.0%}, "
            f"at most {format_duration(self.max_duration_s)}"
        )


def stages_for(
    steps: list[tuple[float, float]],
    spec: SearchSpec,
    *,
    finished: bool,
    end_s: float | None = None,
) -> tuple[Stage, ...]:
    """The stages of a search so far: each (rate, start_s) step held for `hold_s`, then a
    recovery at `recovery_rate` until the next step starts. The last recovery runs to
    max_duration while the search goes on (the master cuts it when it decides); once the
    search is finished it ends at `end_s` (none when that is not after the hold)."""
    out: list[Stage] = []
    for i, (rate, start) in enumerate(steps):
        out.append(Stage(len(out), StageKind.HOLD, start, spec.hold_s, rate, rate))
        rec_start = start + spec.hold_s
        if i + 1 < len(steps):
            rec_end = steps[i + 1][1]
        elif finished:
            if end_s is None or end_s <= rec_start:
                break
            rec_end = end_s
        else:
            rec_end = max(spec.max_duration_s, rec_start)
        if rec_end > rec_start:
            rate_r = spec.recovery_rate
            out.append(
                Stage(len(out), StageKind.RECOVERY, rec_start, rec_end - rec_start, rate_r, rate_r)
            )
    return tuple(out)


# ---------------------------------------------------------------- the decisions


@dataclass
class Step:
    """One held rate and what it was judged."""

    rate: float
    phase: Phase
    verdict: StepVerdict | None = None
    reason: str = ""


@dataclass
class KneeSearch:
    """The bracket logic, driven by verdicts: `next_rate()`, hold it, `record(verdict)`.

    Attributes:
        steps: every step so far with its verdict.
        lo / hi: highest passing rate below the lowest failing one (None: not yet known);
            a pass at or above a rate that failed does not count.
        end, end_reason: why the search stopped (None while it runs).
    """

    spec: SearchSpec
    steps: list[Step] = field(default_factory=list)
    lo: float | None = None
    hi: float | None = None
    phase: Phase = Phase.RAISE
    end: SearchEnd | None = None
    end_reason: str = ""
    _confirmed: set[float] = field(default_factory=set)

    @property
    def done(self) -> bool:
        return self.end is not None

    @property
    def knee(self) -> float | None:
        """The highest rate shown to meet the service level (None: none was)."""
        return self.lo

    def next_rate(self, elapsed_s: float = 0.0) -> float | None:
        """The rate of the next step, or None once the search is over (see `end`).

        `elapsed_s`: time since the search began; a step that would not fit in
        max_duration with the recovery after it (when it is judged) is not started."""
        if self.done:
            return None
        if self.steps and self.steps[-1].verdict is None:
            return self.steps[-1].rate  # still waiting for its verdict
        if len(self.steps) >= MAX_STEPS:
            self._finish(SearchEnd.TIME, f"stopped after {MAX_STEPS} steps")
            return None
        rate = self._choose()
        if rate is None:
            return None
        need = self.spec.hold_s + self.spec.recovery
        if self.steps and elapsed_s + need > self.spec.max_duration_s + 1e-9:
            self._finish(
                SearchEnd.TIME,
                f"max_duration {format_duration(self.spec.max_duration_s)} reached "
                f"before the {rate:g}/s step",
            )
            return None
        self.steps.append(Step(rate, self.phase))
        return rate

    def record(self, verdict: StepVerdict, reason: str = "") -> None:
        """The verdict of the step `next_rate` last returned."""
        if not self.steps or self.steps[-1].verdict is not None:
            raise ValueError("no step waits for a verdict")
        step = self.steps[-1]
        step.verdict, step.reason = verdict, reason
        rate = step.rate
        if verdict is StepVerdict.GENERATORS:
            self._finish(
                SearchEnd.GENERATORS,
                f"the generators could not offer {rate:g}/s ({reason})" if reason else
                f"the generators could not offer {rate:g}/s",
            )  # fmt: skip
            return
        if verdict is StepVerdict.PASS:
            if step.phase is Phase.CONFIRM:
                self._confirmed.add(rate)
            if self.lo is None or rate > self.lo:
                self.lo = rate
            return
        # a failure: the lowest failing rate so far; a disproved pass no longer counts
        self.hi = rate if self.hi is None else min(self.hi, rate)
        if self.lo is not None and self.lo >= self.hi:
            passes = [
                s.rate
                for s in self.steps
                if s.verdict is StepVerdict.PASS and s.rate < self.hi
                and not self._failed_at_or_below(s.rate)
            ]  # fmt: skip
            self.lo = max(passes) if passes else None

    def _failed_at_or_below(self, rate: float) -> bool:
        return any(s.verdict is StepVerdict.FAIL and s.rate <= rate for s in self.steps)

    def _choose(self) -> float | None:
        spec = self.spec
        if not self.steps:
            self.phase = Phase.RAISE
            return spec.from_rate
        if self.hi is None:  # every step so far passed: raise
            assert self.lo is not None
            if self.lo >= spec.max_rate:
                self._finish(
                    SearchEnd.ABOVE_MAX,
                    f"max {spec.max_rate:g}/s met the service level: the knee is above the test",
                )
                return None
            self.phase = Phase.RAISE
            return min(self.lo * GROWTH, spec.max_rate)
        if self.lo is None:
            self._finish(
                SearchEnd.BELOW_FROM,
                f"{self.hi:g}/s missed the service level and no lower rate met it: "
                "the knee is below the test",
            )
            return None
        if within(self.lo, self.hi, spec.resolution):
            if self.lo in self._confirmed:
                self._finish(
                    SearchEnd.CONVERGED,
                    f"between {self.lo:g} and {self.hi:g} req/s, {self.lo:g} confirmed",
                )
                return None
            self.phase = Phase.CONFIRM
            return self.lo
        self.phase = Phase.BISECT
        return midpoint(self.lo, self.hi)

    def stop(self, reason: str) -> None:
        """The run ended before the search did (Ctrl-C, abort, lost master)."""
        if not self.done:
            self._finish(SearchEnd.STOPPED, reason)

    def _finish(self, end: SearchEnd, reason: str) -> None:
        self.end, self.end_reason, self.phase = end, reason, Phase.DONE

    def bracket(self) -> tuple[float | None, float | None]:
        return self.lo, self.hi

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "knee": self.lo,
            "bracket": [self.lo, self.hi],
            "end": self.end.value if self.end else None,
            "end_reason": self.end_reason,
            "steps": [
                {
                    "rate": s.rate,
                    "phase": s.phase.value,
                    "verdict": s.verdict.value if s.verdict else None,
                    "reason": s.reason,
                }
                for s in self.steps
            ],
        }


def within(lo: float, hi: float, resolution: float) -> bool:
    """Is the bracket narrow enough: its width at most `resolution` of the failing rate."""
    return hi - lo <= resolution * hi + 1e-9


def midpoint(lo: float, hi: float) -> float:
    """The middle of the bracket, rounded to 3 significant digits when that stays inside
    (people read "162/s", not "162.109375/s")."""
    mid = (lo + hi) / 2.0
    digits = 3 - math.floor(math.log10(mid)) - 1 if mid > 0 else 0
    rounded = round(mid, digits)
    return rounded if lo < rounded < hi else mid


# ---------------------------------------------------------------- parsing


def parse_search(parser: Any, node: dict) -> SearchSpec | None:
    """`load.search` with the schedule parser's helpers (`surge.schedule._Parser`): every
    problem is collected with its key path, like the rest of the schedule."""
    path = "load.search"
    if "stages" in node:
        parser.problem("load", "stages and search", "expected either stages or search, not both")
    raw = parser.mapping(node.get("search"), path)
    if raw is None:
        return None
    if not raw:
        parser.problem(path, node.get("search"), "expected a mapping like {from: 50, max: 5000}")
        return None
    keys = ("from", "max", "hold", "resolution", "max_duration", "recovery", "require")
    parser.keys(raw, path, keys, ("from", "max"))
    before = len(parser.problems)
    lo = parser.number(raw["from"], f"{path}.from", 1e-6, MAX_RATE) if "from" in raw else None
    hi = parser.number(raw["max"], f"{path}.max", 1e-6, MAX_RATE) if "max" in raw else None
    hold = _duration(parser, raw, "hold", DEFAULT_HOLD_S, MIN_HOLD_S)
    max_duration = _duration(parser, raw, "max_duration", DEFAULT_MAX_DURATION_S, MIN_HOLD_S)
    recovery = _duration(parser, raw, "recovery", None, MIN_RECOVERY_S)
    resolution = DEFAULT_RESOLUTION
    if "resolution" in raw:
        resolution = _resolution(parser, raw["resolution"], f"{path}.resolution")
    require = None
    if "require" in raw:
        require = parser.number(raw["require"], f"{path}.require", 0, MAX_RATE)
    if lo is not None and hi is not None and hi <= lo:
        parser.problem(f"{path}.max", raw["max"], f"expected a rate above from ({lo:g})")
    if require is not None and hi is not None and require > hi:
        parser.problem(
            f"{path}.require", raw["require"], f"expected at most max ({hi:g}): above it "
            "the search cannot prove it"
        )  # fmt: skip
    if hold is not None and max_duration is not None and max_duration < hold:
        parser.problem(
            f"{path}.max_duration", raw["max_duration"],
            f"expected at least one hold ({format_duration(hold)})",
        )  # fmt: skip
    if len(parser.problems) > before or None in (lo, hi, hold, max_duration, resolution):
        return None
    return SearchSpec(
        from_rate=lo, max_rate=hi, hold_s=hold, resolution=resolution,
        max_duration_s=max_duration, recovery_s=recovery, require=require,
    )  # fmt: skip


def _duration(parser: Any, raw: dict, key: str, default: float | None, lo: float) -> float | None:
    if key not in raw:
        return default
    why = {
        "hold": "a step is judged on its second half, which must hold two one-second live samples",
        "max_duration": "at least one step",
        "recovery": "the master needs it to judge the step and tell the workers",
    }[key]
    seconds = parser.convert(raw[key], f"load.search.{key}", _parse_duration)
    if seconds is None:
        return None
    if not lo <= seconds <= 7 * 24 * 3600.0:
        parser.problem(
            f"load.search.{key}", raw[key], f"expected at least {format_duration(lo)} ({why})"
        )
        return None
    return seconds


def _parse_duration(value: Any) -> float:
    from surge.units import parse_duration

    return parse_duration(value)


def _resolution(parser: Any, value: Any, path: str) -> float | None:
    expected = f"expected a percentage above 0% and at most {MAX_RESOLUTION:.0%}, like 5%"
    try:
        fraction = parse_fraction(value)
    except ValueError:
        parser.problem(path, value, expected)
        return None
    if not 0.0 < fraction <= MAX_RESOLUTION:
        parser.problem(path, value, expected)
        return None
    return fraction


def check_service_level(parser: Any, thresholds: tuple[Threshold, ...]) -> None:
    """A search judges every step by the thresholds, and failing steps are its purpose."""
    if not thresholds:
        parser.problem(
            "thresholds", None, "load.search needs thresholds: the service level each step "
            "is held to (e.g. p95 < 3s, success_rate >= 99%)"
        )  # fmt: skip
    for i, t in enumerate(thresholds):
        if t.abort_on_fail:
            parser.problem(
                f"thresholds[{i}].abort_on_fail", True, "expected false with load.search: "
                "the search fails steps on purpose and must not end the run"
            )  # fmt: skip


def stages_from_dicts(rows: list[dict[str, Any]] | None) -> tuple[Stage, ...]:
    """Stages as a plan carries them (`Stage.to_dict` rows); () for None."""
    return tuple(Stage.from_dict(r) for r in rows or ())
