"""What the recorder needs to know about the request being made, carried per greenlet.

Locust's ``request`` event says nothing about arrivals, so the dispatcher stamps each
arrival's intended send time into a context variable of the greenlet that runs it
(gevent gives every greenlet its own context), and the recorder reads it back when the
user class's client fires the event. No Locust class is patched and user classes need
no changes.

A scenario that knows better than the HTTP status what a response means (a 409 "sold
out" is a valid business answer, not a failure) calls `mark_outcome` just before the
request is reported, for example inside a ``catch_response`` block.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from surge.results import Outcome


class Arrival:
    """One scheduled arrival. The first request it makes is measured from `intended`;
    requests that follow within the same task are measured from their own send time,
    because the generator did not hold them back."""

    __slots__ = ("first_pending", "intended", "stage", "task")

    def __init__(self, intended: float, stage: int, task: Any) -> None:
        self.intended = intended  # epoch seconds
        self.stage = stage
        self.task = task  # the task function this arrival runs
        self.first_pending = True


CURRENT_ARRIVAL: ContextVar[Arrival | None] = ContextVar("surge_arrival", default=None)
OUTCOME_OVERRIDE: ContextVar[Outcome | None] = ContextVar("surge_outcome", default=None)


def mark_outcome(outcome: Outcome) -> None:
    """Classify the next request this greenlet reports as `outcome` (then reset)."""
    OUTCOME_OVERRIDE.set(outcome)
