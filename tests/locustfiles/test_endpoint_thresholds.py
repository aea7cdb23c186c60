"""Thresholds scoped to one endpoint, evaluated live on the master (abort_on_fail) and by
the master's per-endpoint windows (`locustfiles.live_endpoints`)."""

from __future__ import annotations

import time

import numpy as np

from surge.analysis.endpoints import endpoint_label as report_label
from surge.locustfiles.endpoints import (
    NOT_SENT,
    OTHER,
    EndpointNames,
    endpoint_label,
    summarise,
)
from surge.locustfiles.fleet import FleetController
from surge.locustfiles.live_endpoints import EndpointSeconds, matches
from surge.locustfiles.live_metrics import LiveMetrics
from surge.provisioning.local import run_local
from surge.results import RunState, read_status
from surge.schedule import parse_schedule
from tests.helpers.locust import FIXTURES, assert_threshold_abort, http_target, write_schedule


def _figures(ok: int, errors: int, bucket: int, endpoint: str = "GET /x") -> dict:
    """One endpoint's figures as a worker sends them (`endpoints.summarise`)."""
    method, _, name = endpoint.partition(" ")
    return {
        "method": method, "name": name,
        "outcomes": {"ok|": ok, "error|HTTP 503": errors},
        "hist_corrected": {str(bucket): ok + errors},
        "hist_uncorrected": {str(bucket): ok + errors},
    }  # fmt: skip


def test_windows_add_workers_and_seconds_per_endpoint() -> None:
    seconds = EndpointSeconds()
    post = _figures(0, 4, 90, "POST /x")
    seconds.add(100, {"GET /x": _figures(3, 1, 10), "POST /x": post,
                      "GET /y": _figures(5, 0, 20, "GET /y")})  # fmt: skip
    seconds.add(100, {"GET /x": _figures(1, 1, 30)})  # a second worker, same second
    seconds.add(101, {"GET /x": _figures(2, 0, 10)})
    window = seconds.window("GET /x", last=101, seconds=2)  # never POST /x's figures
    assert window is not None
    assert window.outcomes == {"ok": 6, "error": 2} and window.sent == 8
    assert window.corrected == {10: 6, 30: 2}
    both = seconds.window("/x", last=101, seconds=2)  # a bare name: every method of it
    assert both is not None and both.outcomes == {"ok": 6, "error": 6}
    assert both.corrected == {10: 6, 30: 2, 90: 4}
    assert seconds.window("GET /x", last=99, seconds=2) is None  # nothing to judge
    assert seconds.window("GET /y", last=101, seconds=1) is None
    assert seconds.unknown({"GET /x", "/x", "/y", "GET /y", "POST /z", "DELETE /x"}) == [
        "DELETE /x", "POST /z",
    ]  # fmt: skip


def test_the_live_table_and_scoped_thresholds_read_one_store() -> None:
    """The master adds a health report's endpoints once: the web UI's "last seconds"
    table and a threshold scoped to the endpoint see the same sample."""
    live = LiveMetrics()
    for worker, figures in (("w1", _figures(3, 1, 10)), ("w2", _figures(1, 1, 30))):
        live.observe({"time_us": 100_500_000, "worker": worker, "endpoints": {"GET /x": figures}})
    judged = live.endpoint_window("GET /x", last=100, seconds=1)
    shown = live.window(seconds=1, now=101.2)
    assert judged is not None and shown == {"GET /x": judged}
    assert judged.outcomes == {"ok": 4, "error": 2} and judged.corrected == {10: 4, 30: 2}
    assert live.endpoint_window("/x", last=100, seconds=1) == judged  # its only method
    assert live.endpoint_window("POST /x", last=100, seconds=1) is None
    assert live.unknown_endpoints({"GET /x", "/x", "POST /z"}) == ["POST /z"]


def test_a_rule_names_an_endpoint_or_every_method_of_a_request_name() -> None:
    assert matches("POST /buy", "POST /buy", "/buy")
    assert not matches("GET /buy", "POST /buy", "/buy")  # another method: another endpoint
    assert matches("/buy", "POST /buy", "/buy")  # a bare name: every method of it
    assert matches("/buy", "/buy", "/buy")  # dropped requests: no method, the name alone
    assert not matches("POST /buy", "/buy", "/buy")  # never sent: not a POST
    assert not matches("/buy", "POST /buy/2", "/buy/2")
    assert not matches("in", "sign in", "sign in")  # names are whole strings


def test_workers_key_endpoints_as_the_report_does() -> None:
    """`summarise` labels each row with the report's key (method + name), carries the
    method and name beside the figures, and keeps the bound on distinct labels."""
    names = ["/x", "/x", "/x", "GET /y", "browse", "/z"]
    methods = ["GET", "POST", "GET", "GET", "", "PUT"]
    n = len(names)
    lat = np.full(n, 5_000, dtype=np.int64)
    svc = lat.copy()
    svc[4] = NOT_SENT  # the dropped arrival: never sent, so no method
    outcomes = ["ok", "ok", "ok", "ok", "dropped", "ok"]
    statuses = np.asarray([200, 201, 200, 200, 0, 200], dtype=np.int16)
    errors = [None, None, None, None, "dropped: late", None]
    got = summarise(names, outcomes, statuses, errors, lat, svc, EndpointNames(limit=4),
                    methods=methods)  # fmt: skip
    assert list(got) == ["GET /x", "POST /x", "GET /y", "browse", OTHER]
    assert got["GET /x"]["outcomes"] == {"ok|": 2} and got["POST /x"]["outcomes"] == {"ok|": 1}
    assert (got["POST /x"]["method"], got["POST /x"]["name"]) == ("POST", "/x")
    assert (got["GET /y"]["method"], got["GET /y"]["name"]) == ("GET", "GET /y")
    assert (got["browse"]["method"], got["browse"]["name"]) == ("", "browse")
    assert "name" not in got[OTHER]  # PUT /z, folded: no rule names a folded endpoint
    for method, name in zip(methods, names, strict=True):  # the report's key, one rule
        assert endpoint_label(method, name) == report_label(method, name)


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
                             "endpoints": {"GET /x": _figures(3, 0, 10)}})  # fmt: skip
    controller._evaluate_thresholds()
    assert controller.status()["thresholds"][0]["state"] == "passing"


def test_get_and_post_of_one_name_are_judged_apart_live(tmp_path) -> None:
    """GET /x is fast, POST /x (same request name) takes 1 s: the rule on POST /x stops
    the run, the one on GET /x never fails (it used to count the POSTs too), and a rule
    on the bare name /x holds over both methods: its p50 is a fast read (3 reads per
    write), its p95 a slow write."""
    with http_target() as url:
        schedule = write_schedule(
            tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "same_name.py"),
            user="SameNameUser", stages="{rps: 20, duration: 60s}",
            extra="arrivals: uniform\n"
            "thresholds:\n"
            "  - {rule: p95 < 500ms, name: GET /x, abort_on_fail: true}\n"
            "  - p50{name=/x} < 500ms\n"
            "  - p95{name=/x} < 500ms\n"
            "  - {rule: p95 < 500ms, name: POST /x, abort_on_fail: true, for: 2s}\n",
        )  # fmt: skip
        result = run_local(schedule, tmp_path / "run", workers=1, run_id="same-name")
    assert_threshold_abort(result, "p95{name=POST /x} < 500ms", within_s=25)
    states = {t["rule"]: t["state"] for t in read_status(tmp_path / "run")["thresholds"]}
    assert states == {
        "p95{name=GET /x} < 500ms": "passing",
        "p50{name=/x} < 500ms": "passing",  # the reads are in it
        "p95{name=/x} < 500ms": "failing",  # and so are the writes
        "p95{name=POST /x} < 500ms": "aborting",
    }, states
