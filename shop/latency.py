"""Latency knobs: a service-time distribution and the stall pattern.

The stall pattern exists for accuracy tests: a generator that measures latency
from the *intended* send time must report the held requests as slow, while a
closed-model generator hides them. It is keyed on wall-clock time modulo the
period so that a test on the same machine can predict exactly which requests
are held and until when.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass

from surge.units import parse_duration


class Distribution(enum.Enum):
    """Shapes of the per-request service time."""

    CONSTANT = "const"
    EXPONENTIAL = "exp"
    UNIFORM = "uniform"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True)
class ServiceTime:
    """Extra time every API request spends "in the function", in seconds.

    ``first`` is the constant, the mean (exp), the low bound (uniform) or the
    median (lognormal); ``second`` is the high bound (uniform) or sigma
    (lognormal).
    """

    kind: Distribution = Distribution.CONSTANT
    first: float = 0.0
    second: float = 0.0

    @property
    def is_zero(self) -> bool:
        return self.kind is Distribution.CONSTANT and self.first == 0.0

    def sample(self, rng: random.Random) -> float:
        if self.kind is Distribution.CONSTANT:
            return self.first
        if self.kind is Distribution.EXPONENTIAL:
            return rng.expovariate(1.0 / self.first) if self.first > 0 else 0.0
        if self.kind is Distribution.UNIFORM:
            return rng.uniform(self.first, self.second)
        return rng.lognormvariate(math.log(self.first), self.second)

    def describe(self) -> str:
        if self.kind is Distribution.CONSTANT:
            return f"{self.first * 1000:g}ms"
        if self.kind is Distribution.EXPONENTIAL:
            return f"exp:{self.first * 1000:g}ms"
        if self.kind is Distribution.UNIFORM:
            return f"uniform:{self.first * 1000:g}ms,{self.second * 1000:g}ms"
        return f"lognormal:{self.first * 1000:g}ms,{self.second:g}"


def parse_service_time(text: str) -> ServiceTime:
    """Parse ``20ms``, ``exp:20ms``, ``uniform:5ms,50ms`` or ``lognormal:20ms,0.5``."""
    kind_text, _, args_text = text.strip().partition(":")
    if not args_text:
        return ServiceTime(Distribution.CONSTANT, parse_duration(kind_text))
    try:
        kind = Distribution(kind_text)
    except ValueError:
        names = ", ".join(d.value for d in Distribution)
        raise ValueError(f"unknown distribution {kind_text!r}; use one of {names}") from None
    args = [a.strip() for a in args_text.split(",")]
    if kind in (Distribution.CONSTANT, Distribution.EXPONENTIAL):
        if len(args) != 1:
            raise ValueError(f"{kind.value} takes one duration, like {kind.value}:20ms")
        return ServiceTime(kind, parse_duration(args[0]))
    if len(args) != 2:
        raise ValueError("expected two values, like uniform:5ms,50ms or lognormal:20ms,0.5")
    if kind is Distribution.UNIFORM:
        low, high = parse_duration(args[0]), parse_duration(args[1])
        if high < low:
            raise ValueError("uniform: the high bound must not be below the low bound")
        return ServiceTime(kind, low, high)
    median = parse_duration(args[0])
    if median <= 0:
        raise ValueError("lognormal: the median must be positive")
    try:
        sigma = float(args[1])
    except ValueError:
        raise ValueError("lognormal: sigma must be a number, like 0.5") from None
    if sigma < 0:
        raise ValueError("lognormal: sigma must not be negative")
    return ServiceTime(kind, median, sigma)


@dataclass(frozen=True)
class StallPattern:
    """Hold every request arriving in the last ``hold_s`` of each ``period_s``.

    Periods are aligned to the Unix epoch (wall clock), so with ``1s/5s`` the
    windows are [4, 5), [9, 10), ... seconds past every full minute.
    """

    hold_s: float
    period_s: float

    def release_at(self, now: float) -> float | None:
        """The wall-clock time a request arriving at ``now`` is held until, or None."""
        phase = now % self.period_s
        if phase < self.period_s - self.hold_s:
            return None
        return now - phase + self.period_s

    def describe(self) -> str:
        return f"{self.hold_s:g}s/{self.period_s:g}s"


def parse_stall(text: str) -> StallPattern:
    """Parse ``HOLD/PERIOD`` such as ``1s/5s``."""
    hold_text, sep, period_text = text.strip().partition("/")
    if not sep:
        raise ValueError("expected HOLD/PERIOD, like 1s/5s")
    hold, period = parse_duration(hold_text), parse_duration(period_text)
    if not 0 < hold < period:
        raise ValueError("the hold must be positive and shorter than the period")
    return StallPattern(hold, period)
