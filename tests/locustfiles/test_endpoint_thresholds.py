"""Thresholds scoped to one endpoint, evaluated live on the master (abort_on_fail) and by
the master's per-endpoint windows (`locustfiles.live_endpoints`)."""

from __future__ import annotations

import time

from surge.locustfiles.fleet import FleetController
from surge.locustfiles.live_endpoints import EndpointSeconds, matches
from surge.locustfiles.live_metrics import LiveMetrics
from surge.provisioning.local import run_local
from surge.results import RunState, read_status
from surge.schedule import parse_schedule
from tests.helpers.locust import FIXTURES, assert_threshold_abort, http_target, write_schedule


def _figures(ok: int, errors: int, bucket: int) -> dict:
    return {
        "outcomes": {"ok|": ok, "error|HTTP 503": errors},
        "hist_corrected": {str(bucket): ok + errors},
        "hist_uncorrected": {str(bucket): ok + errors},
    }


def test_windows_add_workers_and_seconds_per_endpoint() -> None:
    seconds = EndpointSeconds()
    seconds.add(100, {"/x": _figures(3, 1, 10), "GET /y": _figures(5, 0, 20)})
    seconds.add(100, {"/x": _figures(1, 1, 30)})  # a second worker, same second
    seconds.add(101, {"/x": _figures(2, 0, 10)})
    window = seconds.window("GET /x", last=101, seconds=2)  # method + name matches "/x"
    assert window is not None
    assert window.outcomes == {"ok": 6, "error": 2} and window.sent == 8
    assert window.corrected == {10: 6, 30: 2}
    assert seconds.window("GET /x", last=99, seconds=2) is None  # nothing to judge
    assert seconds.window("GET /y", last=101, seconds=1) is None
    assert seconds.unknown({"GET /x", "GET /y", "POST /z"}) == ["POST /z"]


def test_the_live_table_and_scoped_thresholds_read_one_store() -> None:
    """The master adds a health report's endpoints once: the web UI's "last seconds"
    table and a threshold scoped to the endpoint see the same sample."""
    live = LiveMetrics()
    for worker, figures in (("w1", _figures(3, 1, 10)), ("w2", _figures(1, 1, 30))):
        live.observe({"time_us": 100_500_000, "worker": worker, "endpoints": {"/x": figures}})
    judged = live.endpoint_window("GET /x", last=100, seconds=1)
    shown = live.window(seconds=1, now=101.2)
    assert judged is not None and shown == {"/x": judged}
    assert judged.outcomes == {"ok": 4, "error": 2} and judged.corrected == {10: 4, 30: 2}
    assert live.unknown_endpoints({"GET /x", "POST /z"}) == ["POST /z"]


def test_names_match_with_or_without_the_method() -> None:
    assert matches("POST /buy", "POST /buy")
    assert matches("POST /buy", "/buy")
    assert not matches("POST /buy", "/buy/2")
    assert not matches("sign in", "in")  # "sign" is not an HTTP method


def test_abort_on_fail_on_one_endpoint_stops_the_run_live(tmp_path) -> None:
    """error_rate over the whole run is 25 %, under its 50 % rule; the failing endpoint's
    own rule (100 % errors) is what stops the run."""
    with http_target() as url:
        schedule = write_schedule(
            tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "two_endpoints.py"),
            user="TwoEndpointsUser", stages="{rps: 20, duration: 60s}",
            extra="arrivals: uniform\n"
            "thresholds:\n"
            "  - error_rate < 50%\n"
            "  - p95{name=GET /ok} < 5s\n"
            "  - {rule: error_rate < 50%, name: GET /unavailable, abort_on_fail: true, for: 2s}\n",
        )  # fmt: skip
        result = run_local(schedule, tmp_path / "run", workers=1, run_id="abort-endpoint")
    assert_threshold_abort(result, "error_rate{name=GET /unavailable} < 50%", within_s=20)
    # one vocabulary: achieved is successful answers per second, sent is beside it
    status = read_status(tmp_path / "run")
    assert status["achieved_rps"] == status["answered_rps"] and "sent_rps" in status
    assert "stage_name" in status


def test_a_scoped_rule_without_requests_is_no_data_not_passing(tmp_path) -> None:
    """Until its endpoint is called, a scoped rule is "no_data" in status.json (and so in
    /metrics and the web UI); a call that meets it turns it "passing"."""
    schedule = parse_schedule(
        "name: s\ntarget: http://127.0.0.1:9\nload: {stages: [{rps: 5, duration: 60s}]}\n"
        "thresholds:\n  - p95{name=GET /x} < 1s\n  - p95 < 1s\n"
    )
    controller = FleetController(environment=None, schedule=schedule, run_dir=tmp_path,
                                 run_id="s-1")  # fmt: skip
    controller.state = RunState.RUNNING
    controller._evaluate_thresholds()
    states = [t["state"] for t in controller.status()["thresholds"]]
    assert states == ["no_data", "passing"]
    last = int(time.time()) - 1
    controller.live.observe({"time_us": last * 1_000_000 + 500_000, "worker": "w1",
                             "endpoints": {"/x": _figures(3, 0, 10)}})  # fmt: skip
    controller._evaluate_thresholds()
    assert controller.status()["thresholds"][0]["state"] == "passing"
