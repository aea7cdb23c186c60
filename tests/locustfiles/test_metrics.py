"""What /metrics exports, from health reports as workers send them, and the Grafana
dashboard that reads it: every PromQL expression there names only exported metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from surge.locustfiles import endpoints, metrics
from surge.locustfiles.endpoints import EndpointNames, summarise
from surge.locustfiles.error_types import live_kind as error_type
from surge.locustfiles.histogram import bucket_counts
from surge.locustfiles.live_metrics import LiveMetrics

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "docs" / "grafana" / "surge-dashboard.json"
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}

STATUS = {
    "state": "running", "run_id": "shop-20261127T100000Z", "stage_index": 1, "stage_count": 3,
    "offered_rps": 200.0, "untrustworthy": [],
    "thresholds": [{"rule": "p95 < 3s", "state": "passing"},
                   {"rule": "error_rate < 1%", "state": "failing"},
                   {"rule": "p95{name=GET /x} < 1s", "state": "no_data"}],
    "workers": [{"id": "w1"}, {"id": "w2"}],
}  # fmt: skip


def health(worker: str, second: int, endpoints_: list[str], latency_ms: list[float]) -> dict:
    """A worker's health report, with the per-endpoint part built as the recorder does
    from its method and name columns (``GET /x`` is method GET, name /x). The last row is
    dropped: never sent, no method, recorded under its whole text as its name."""
    n = len(endpoints_)
    methods = [e.partition(" ")[0] for e in endpoints_[:-1]] + [""]
    names = [e.partition(" ")[2] for e in endpoints_[:-1]] + [endpoints_[-1]]
    outcomes = ["ok"] * (n - 2) + ["error", "dropped"]
    lat = np.asarray(latency_ms, dtype=np.int64) * 1000
    svc = lat // 2
    svc[-1] = endpoints.NOT_SENT
    statuses = np.asarray([200] * (n - 2) + [503, 0], dtype=np.int16)
    errors = [None] * (n - 2) + ["HTTP 503 Service Unavailable", "dropped: late"]
    return {
        "worker": worker, "host": "gen-1", "time_us": second * 1_000_000, "cpu_percent": 42.0,
        "cpu_wait_percent": 1.0, "send_lag_p99_us": 3000, "in_flight": 5, "late": 1, "dropped": 1,
        "endpoints": summarise(names, outcomes, statuses, errors, lat, svc, EndpointNames(),
                               methods=methods),
    }  # fmt: skip


def exposition(live: LiveMetrics, status: dict | None = None) -> dict:
    collector = metrics.SurgeCollector(live=live, status=lambda: status or STATUS,
                                       schedule_name="shop")  # fmt: skip
    text = generate_latest(metrics.make_registry(collector)).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(families: dict, family: str, name: str, **labels: str) -> float:
    (value,) = [
        s.value
        for s in families[family].samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return value


def test_counters_and_histograms_add_up_the_workers_reports() -> None:
    live = LiveMetrics()
    names = ["GET /products"] * 8 + ["POST /orders"] * 2
    live.observe(health("w1", 1000, names, [5, 5, 5, 20, 20, 200, 700, 1500, 3, 4]))
    live.observe(health("w2", 1001, ["GET /products"] * 4, [1, 2, 3, 4]))
    fams = exposition(live)

    get = {"endpoint": "GET /products"}
    assert sample(fams, "surge_requests_offered", "surge_requests_offered_total", **get) == 12
    # w1's last two rows are POST /orders (error, dropped); w2's are an error and a drop
    assert sample(fams, "surge_requests_sent", "surge_requests_sent_total", **get) == 11
    assert sample(fams, "surge_requests_successful", "surge_requests_successful_total", **get) == 10
    assert sample(fams, "surge_outcomes", "surge_outcomes_total", endpoint="GET /products",
                  outcome="error", error_type="HTTP 503 Service Unavailable") == 1  # fmt: skip
    assert sample(fams, "surge_outcomes", "surge_outcomes_total", endpoint="POST /orders",
                  outcome="dropped", error_type="late") == 1  # fmt: skip
    hist = "surge_latency_corrected_seconds"
    assert sample(fams, hist, hist + "_count", **get) == 11  # sent ones only
    assert sample(fams, hist, hist + "_sum", **get) == (5 + 5 + 5 + 20 + 20 + 200 + 700 + 1500
                                                         + 1 + 2 + 3) / 1000  # fmt: skip
    assert sample(fams, hist, hist + "_bucket", le="0.01", **get) == 6  # 5,5,5,1,2,3 ms
    assert sample(fams, hist, hist + "_bucket", le="1.0", **get) == 10
    assert sample(fams, hist, hist + "_bucket", le="+Inf", **get) == 11
    assert sample(fams, "surge_late", "surge_late_total") == 2
    assert sample(fams, "surge_stage", "surge_stage") == 2  # index 1 is stage 2
    assert sample(fams, "surge_threshold_state", "surge_threshold_state", rule="error_rate < 1%",
                  surge_threshold_state="failing") == 1  # fmt: skip
    scoped = {"rule": "p95{name=GET /x} < 1s"}  # no request of it yet: neither pass nor fail
    assert sample(fams, "surge_threshold_state", "surge_threshold_state", **scoped,
                  surge_threshold_state="no_data") == 1  # fmt: skip
    assert sample(fams, "surge_threshold_state", "surge_threshold_state", **scoped,
                  surge_threshold_state="passing") == 0  # fmt: skip
    assert sample(fams, "surge_worker_send_lag_p99_seconds", "surge_worker_send_lag_p99_seconds",
                  worker="w1") == 0.003  # fmt: skip


def test_two_methods_of_one_request_name_are_two_endpoints() -> None:
    """The endpoint label is the report's key (method + name): a GET and a POST named
    ``/x`` are two series, not one."""
    live = LiveMetrics()
    live.observe(health("w1", 1000, ["GET /x", "GET /x", "POST /x", "POST /x", "x"], [1.0] * 5))
    fams = exposition(live)
    assert sample(fams, "surge_requests_sent", "surge_requests_sent_total", endpoint="GET /x") == 2
    post = {"endpoint": "POST /x"}  # one ok, one error (see `health`)
    assert sample(fams, "surge_requests_sent", "surge_requests_sent_total", **post) == 2
    assert sample(fams, "surge_requests_successful", "surge_requests_successful_total", **post) == 1
    labels = {s.labels["endpoint"] for s in fams["surge_requests_offered"].samples}
    assert labels == {"GET /x", "POST /x", "x"}


def test_endpoint_labels_are_bounded() -> None:
    names = EndpointNames(limit=3)
    assert [names.label(n) for n in ["a", "b", "a", "c", "d", "e", "b"]] == [
        "a", "b", "a", "c", "other", "other", "b",
    ]  # fmt: skip
    live = LiveMetrics()
    many = [f"GET /products/{i}" for i in range(endpoints.MAX_ENDPOINTS + 20)]
    live.observe(health("w1", 1000, many, [1.0] * len(many)))
    live.observe(health("w2", 1000, list(reversed(many)), [1.0] * len(many)))  # other names first
    labels = {s.labels["endpoint"] for s in exposition(live)["surge_requests_offered"].samples}
    assert len(labels) == endpoints.MAX_ENDPOINTS + 1 and "other" in labels


def test_error_types_are_short_and_say_why() -> None:
    assert error_type("ok", 200, None) == ""
    assert error_type("error", 503, "ProvisionedThroughputExceededException") == (
        "ProvisionedThroughputExceededException"
    )
    assert error_type("error", 500, "CatchResponseError: bad body") == "HTTP 500"
    assert error_type("error", 0, "ConnectionRefusedError: [Errno 111] refused") == (
        "ConnectionRefusedError"
    )
    assert error_type("dropped", 0, "dropped: the run stopped (stop command...)") == "stopped"


def test_prometheus_buckets_are_cumulative_on_fixed_bounds() -> None:
    hist = bucket_counts(np.asarray([500, 800, 2_000, 40_000, 90_000_000], dtype=np.float64))
    pairs = dict(metrics.prometheus_buckets(hist))
    assert pairs["0.001"] == 2 and pairs["0.0025"] == 3 and pairs["0.05"] == 4
    assert pairs["60.0"] == 4 and pairs["+Inf"] == 5


def promql_metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords,
    label names (inside {} or by/without (...)) or strings."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", e)
    found = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        if e[m.end() :].lstrip().startswith("(") or m.group() in PROMQL_WORDS:
            continue  # a function or a keyword
        found.add(m.group())
    return found


def test_promql_names_are_found() -> None:
    expr = ('histogram_quantile(0.95, sum by (endpoint, le) (rate(x_bucket{a=~"b|c"}[5m])))'
            " / on (endpoint) y_total == 1")  # fmt: skip
    assert promql_metric_names(expr) == {"x_bucket", "y_total"}


def test_the_dashboard_reads_only_metrics_the_master_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    live = LiveMetrics()
    live.observe(health("w1", 1000, ["GET /products"] * 4, [1, 2, 3, 4]))
    searching = {**STATUS, "search": {"step": 2, "bracket": [100.0, 200.0]}}
    exported = {s.name for f in exposition(live, searching).values() for s in f.samples}
    families = set(exposition(live))
    assert {f.removesuffix("_total") for f in metrics.EXPORTED} == families  # the docstring list

    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 15
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            (metric,) = re.findall(r"label_values\((\w+),", variable["definition"])
            exprs.append(metric)
    named = set().union(*(promql_metric_names(e) for e in exprs))
    assert named <= exported, f"not exported: {named - exported}"
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("offered vs sent", "corrected vs uncorrected", "outcomes", "cpu per worker",
                  "send lag", "thresholds"):  # fmt: skip
        assert topic in titles


def test_a_knee_search_exports_its_bracket() -> None:
    search = {"phase": "bisect", "step": 4, "bracket": [200.0, 300.0], "rate": 250.0}
    fams = exposition(LiveMetrics(), {**STATUS, "search": search})
    assert sample(fams, "surge_search_step", "surge_search_step") == 4
    assert sample(fams, "surge_search_bracket_rps", "surge_search_bracket_rps", bound="low") == 200
    assert sample(fams, "surge_search_bracket_rps", "surge_search_bracket_rps", bound="high") == 300
    rising = exposition(LiveMetrics(), {**STATUS, "search": {**search, "bracket": [400.0, None]}})
    assert [s.labels["bound"] for s in rising["surge_search_bracket_rps"].samples] == ["low"]
