"""Scenario exceptions counted per (task, type) on a worker and summed on the master
(`locustfiles.scenario_errors`); the end-to-end path is tests/cli/test_task_errors.py."""

from __future__ import annotations

from locust.event import Events

from surge.locustfiles import scenario_errors
from surge.locustfiles.context import CURRENT_ARRIVAL, Arrival
from surge.locustfiles.scenario_errors import ScenarioErrorCounter, ScenarioErrorTotals
from surge.manifest import ScenarioError


def checkout() -> None:  # a task function: its name is the task's name
    pass


def _raise_in(counter_events: Events, task: object, exc: Exception) -> None:
    token = CURRENT_ARRIVAL.set(Arrival(0.0, 0, task) if task is not None else None)
    try:
        counter_events.user_error.fire(user_instance=None, exception=exc, tb=None)
    finally:
        CURRENT_ARRIVAL.reset(token)


def test_a_worker_counts_per_task_and_type_and_sends_only_the_new_counts() -> None:
    events = Events()
    counter = ScenarioErrorCounter()
    events.user_error.add_listener(counter.on_user_error)
    for _ in range(3):
        _raise_in(events, checkout, KeyError("id"))
    _raise_in(events, checkout, ValueError("bad"))
    _raise_in(events, None, RuntimeError("in on_stop"))
    rows = {(r["task"], r["error"]): r for r in counter.take()}
    assert {k: r["count"] for k, r in rows.items()} == {
        ("checkout", "KeyError"): 3,
        ("checkout", "ValueError"): 1,
        (scenario_errors.OUTSIDE_A_TASK, "RuntimeError"): 1,
    }
    assert rows[("checkout", "KeyError")]["example"] == "KeyError: 'id'"
    assert counter.take() == []  # sent once: the master adds, never double-counts
    _raise_in(events, checkout, KeyError("id"))
    assert [r["count"] for r in counter.take()] == [1]


def test_the_master_sums_workers_most_frequent_first() -> None:
    totals = ScenarioErrorTotals()
    totals.add([{"task": "browse", "error": "ValueError", "count": 2, "example": "ValueError: x"}])
    totals.add([{"task": "checkout", "error": "KeyError", "count": 3, "example": "KeyError: 1"}])
    totals.add([{"task": "checkout", "error": "KeyError", "count": 4, "example": "KeyError: 2"}])
    totals.add(None)  # a health message from an older worker
    assert totals.manifest_rows() == [
        ScenarioError("checkout", "KeyError", 7, "KeyError: 1"),
        ScenarioError("browse", "ValueError", 2, "ValueError: x"),
    ]


def test_distinct_kinds_are_bounded() -> None:
    counter = ScenarioErrorCounter()
    for i in range(scenario_errors.MAX_KINDS + 10):
        counter.on_user_error(exception=type(f"Error{i}", (Exception,), {})("x"))
    rows = counter.take()
    assert len(rows) == scenario_errors.MAX_KINDS + 1
    other = [r for r in rows if (r["task"], r["error"]) == scenario_errors.OTHER]
    assert other[0]["count"] == 10
