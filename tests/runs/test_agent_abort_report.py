"""A fleet run ended early: the master's report says it was aborted, by what, and still
prices the fleet (the manifest's typed fields reach the report; agents on loopback)."""

from __future__ import annotations

import json

import pytest

from surge.results import AbortedBy, RunState, read_manifest
from tests.helpers.fleet import Fleet, fetch, push
from tests.helpers.s3 import free_port

pytestmark = pytest.mark.integration


def test_an_aborted_fleet_run_reports_the_abort_and_prices_the_fleet(fleet: Fleet) -> None:
    # nothing listens on the target, so every request errors and abort_on_fail ends the run
    dead_target = f"http://127.0.0.1:{free_port()}"
    abort = "thresholds:\n  - {rule: error_rate < 50%, abort_on_fail: true, for: 2s}\n"
    push(fleet, dead_target, "[{rps: 20, duration: 60s}]", extra=abort)
    fleet.start("master", "master", instance_type="c6i.large")
    fleet.start("w1", "worker", instance_type="c6i.large")
    codes = fleet.wait()
    assert codes["master"] in (1, 3), fleet.output("master")  # 3: this busy machine lagged

    dest = fetch(fleet)
    manifest = read_manifest(dest)
    assert manifest.state is RunState.ABORTED
    assert manifest.abort is not None and manifest.abort.by is AbortedBy.THRESHOLD
    summary = json.loads((dest / "report" / "summary.json").read_text())
    notes = summary["verdict"]["notes"]
    assert any(n.startswith("the run was aborted early by threshold") for n in notes), notes
    cost = summary["cost"]["fleet"]
    assert cost["instances"] == {"c6i.large": 1}  # master and worker share this one host
    assert cost["usd"] is not None
