"""Intended send times: the schedule's rate(t) turned into arrival instants, split over workers.

The fleet's arrivals are defined in "count space": ``Λ(t)``, the integral of the offered
rate from the schedule's start, is the number of arrivals the fleet owes by time ``t``.
Uniform arrivals are the instants where ``Λ(t)`` crosses a whole number ``k``; worker
``index`` of ``count`` takes every ``k ≡ index (mod count)``, so the workers interleave
exactly and the fleet total equals the schedule at every moment. Poisson arrivals are a
unit-rate Poisson process in count space (exponential gaps), which the inverse of ``Λ``
maps to a Poisson process with rate ``rate(t)``; each worker runs its own with ``1/count``
of the rate, and independent Poisson processes add up to the fleet's.

A change of fleet membership takes effect at a count ``Λ`` agreed by all workers (the
master sends the switch time with the new split), so nobody double-sends or skips.

Everything here is pure arithmetic on `surge.schedule.Stage` objects, cheap enough to
run once per request.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from surge.schedule import Arrivals, Stage


class CumulativeRate:
    """``Λ(t)`` and its inverse for a schedule's stages (rates already per fleet or worker)."""

    def __init__(self, stages: Sequence[Stage], scale: float = 1.0) -> None:
        self._stages = [s for s in stages]
        self._scale = scale
        self._starts: list[float] = []  # Λ at each stage's start
        total = 0.0
        for stage in self._stages:
            self._starts.append(total)
            total += stage.expected_requests() * scale
        self.total = total
        self.duration_s = self._stages[-1].end_s if self._stages else 0.0
        self._stage_starts = [s.start_s for s in self._stages]
        self._last_i = 0  # the stage `inverse` found last

    def at(self, offset_s: float) -> float:
        """Arrivals owed between the start and ``offset_s``."""
        if offset_s <= 0 or not self._stages:
            return 0.0
        if offset_s >= self.duration_s:
            return self.total
        i = bisect.bisect_right(self._stage_starts, offset_s) - 1
        stage = self._stages[i]
        tau = offset_s - stage.start_s
        rate_now = stage.rate_at(tau)
        return self._starts[i] + (stage.rate_from + rate_now) / 2.0 * tau * self._scale

    def inverse(self, count: float) -> tuple[float, int] | None:
        """The offset at which ``Λ`` reaches ``count`` and the stage index; None past the end."""
        if count < 0 or count >= self.total:
            return None
        i = self._last_i  # once per arrival: usually the stage of the previous one
        starts = self._starts
        if not (starts[i] <= count and (i + 1 == len(starts) or count < starts[i + 1])):
            i = bisect.bisect_right(starts, count) - 1
            # skip stages that owe nothing (rate 0): Λ is flat there
            while i + 1 < len(starts) and starts[i + 1] <= count:
                i += 1
            self._last_i = i
        stage = self._stages[i]
        x = (count - self._starts[i]) / self._scale
        r0, r1, d = stage.rate_from, stage.rate_to, stage.duration_s
        if r0 == r1:
            tau = x / r0
        else:
            # solve (r1-r0)/(2d) τ² + r0 τ = x, in the form that is stable for small slopes
            a = (r1 - r0) / d
            disc = max(r0 * r0 + 2.0 * a * x, 0.0)
            denom = r0 + math.sqrt(disc)
            tau = 2.0 * x / denom if denom > 0 else d
        return stage.start_s + min(max(tau, 0.0), d), stage.index


@dataclass(frozen=True)
class Split:
    """This worker's share from count ``from_count`` on: every ``k ≡ index (mod count)``."""

    from_count: float
    index: int
    count: int


class ArrivalStream:
    """Successive intended offsets (seconds from the schedule's start) for one worker."""

    def __init__(
        self,
        cumulative: CumulativeRate,
        arrivals: Arrivals,
        split: Split,
        rng: random.Random | None = None,
    ) -> None:
        self._cum = cumulative
        self._poisson = arrivals is Arrivals.POISSON
        self._splits: list[Split] = [split]
        self._rng = rng or random.Random()
        self._random = self._rng.random
        self._last = -1.0  # count of the last arrival handed out
        self._pending: float | None = None
        self._pending_at: tuple[float, int] | None = None  # its (offset, stage), computed once
        self._in_force: tuple[Split, float] | None = None  # `_split_for`'s last answer

    def resplit(self, split: Split) -> None:
        """Apply a new share from ``split.from_count`` on (earlier splits keep their range)."""
        self._splits = [s for s in self._splits if s.from_count < split.from_count] + [split]
        self._in_force = None
        if self._pending is not None and self._pending >= split.from_count:
            self._pending = self._pending_at = None

    def restage(self, cumulative: CumulativeRate, from_count: float) -> None:
        """New stages from count ``from_count`` on (a search's next step, see
        `surge.locustfiles.search`): ``Λ`` is the same before it, so only an arrival
        already drawn beyond it is drawn again."""
        self._cum = cumulative
        if self._pending is not None and self._pending >= from_count:
            self._pending = self._pending_at = None

    def peek(self) -> tuple[float, int] | None:
        """The next arrival (offset, stage index) without consuming it; None when done."""
        if self._pending is None:
            self._pending = self._next_count(self._last)
            if self._pending is None:
                return None
            self._pending_at = self._cum.inverse(self._pending)
        return self._pending_at

    def take(self) -> None:
        """Consume the arrival `peek` returned."""
        if self._pending is not None:
            self._last = self._pending
            self._pending = self._pending_at = None

    def _split_for(self, count: float) -> tuple[Split, float]:
        """The split in force at ``count`` and where the next split begins."""
        cached = self._in_force
        if cached is not None and cached[0].from_count <= count < cached[1]:
            return cached  # the usual case: same split as the previous arrival
        current, end = self._splits[0], math.inf
        for i, s in enumerate(self._splits):
            if s.from_count <= count:
                current = s
                end = self._splits[i + 1].from_count if i + 1 < len(self._splits) else math.inf
        self._in_force = (current, end)
        return current, end

    def _next_count(self, last: float) -> float | None:
        position = last  # the count of the last arrival; the next one lies beyond it
        lookup = max(last, 0.0)  # where to look up the split in force
        while True:
            split, end = self._split_for(lookup)
            if self._poisson:
                base = max(position, split.from_count, 0.0)
                # random.expovariate(1.0), inlined (once per arrival)
                candidate = base - math.log(1.0 - self._random()) * split.count
            else:
                floor = max(math.floor(position) + 1, math.ceil(split.from_count), 0)
                candidate = floor + (split.index - floor) % split.count
            if candidate >= self._cum.total:
                return None
            if candidate < end:
                return float(candidate)
            # the next split takes over from its start (memoryless for Poisson)
            lookup = end
            position = end if self._poisson else max(position, math.ceil(end) - 1)
