"""Expanded stages: the offered rate over time, as the schedule and a knee search make them.

Kept apart from `surge.schedule` (which parses YAML into them) so that the knee search,
which appends stages as it goes, and the schedule parser, which builds a search from
its block, do not import each other.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from surge.units import format_duration


class StageKind(enum.Enum):
    HOLD = "hold"
    RAMP = "ramp"
    RECOVERY = "recovery"  # a search's pause below the knee between steps (never judged)


@dataclass(frozen=True)
class Stage:
    """One expanded stage: the rate goes linearly from `rate_from` to `rate_to`."""

    index: int
    kind: StageKind
    start_s: float  # offset from the schedule's start
    duration_s: float
    rate_from: float
    rate_to: float
    name: str | None = None  # the schedule's optional label, shown beside the number

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def rate_at(self, offset_s: float) -> float:
        """Offered rate `offset_s` seconds into this stage (clamped to the stage)."""
        if self.duration_s <= 0:
            return self.rate_to
        frac = min(max(offset_s / self.duration_s, 0.0), 1.0)
        return self.rate_from + (self.rate_to - self.rate_from) * frac

    def expected_requests(self) -> float:
        return (self.rate_from + self.rate_to) / 2.0 * self.duration_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind.value,
            "start_s": self.start_s,
            "duration_s": self.duration_s,
            "rate_from": self.rate_from,
            "rate_to": self.rate_to,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Stage:
        """The inverse of `to_dict` (a plan message's or a manifest's stage)."""
        return cls(
            int(row["index"]), StageKind(row["kind"]), float(row["start_s"]),
            float(row["duration_s"]), float(row["rate_from"]), float(row["rate_to"]),
            row.get("name"),
        )  # fmt: skip

    def describe(self) -> str:
        if self.kind is not StageKind.RAMP:  # hold, or a search's recovery
            return f"{self.kind.value} {self.rate_to:g}/s for {format_duration(self.duration_s)}"
        return (
            f"ramp {self.rate_from:g}/s -> {self.rate_to:g}/s "
            f"over {format_duration(self.duration_s)}"
        )
