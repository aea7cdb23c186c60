"""Prometheus metrics of a live run, served by the master at ``/metrics`` (text format).

Where: on Locust's web UI (``/metrics`` beside ``/surge/``) when there is one, and on
its own port with ``--surge-metrics-port`` (headless runs, and a fleet's security
group can open that port alone to a monitoring network). Everything is read at
scrape time from what the master already keeps (`FleetController.status` and the
`live_metrics.LiveMetrics` totals), so a scrape costs the run nothing between scrapes.

What is exported (names are the contract `docs/grafana/surge-dashboard.json` uses):

- counters by endpoint: ``surge_requests_offered_total`` (arrivals, dropped ones
  included), ``surge_requests_sent_total``, ``surge_requests_successful_total``
  (answered ok or as a valid refusal), ``surge_outcomes_total{outcome,error_type}``;
- histograms by endpoint: ``surge_latency_corrected_seconds`` (from the intended send
  time) and ``surge_latency_uncorrected_seconds`` (from the actual send). Their
  buckets are rebuilt from surge's 1.1 %-wide mergeable buckets, so a value within
  1.1 % of a bound may sit in the next bucket; counts and sums are exact;
- ``surge_late_total``, ``surge_dropped_total``; per worker ``surge_worker_cpu_percent``,
  ``surge_worker_cpu_wait_percent``, ``surge_worker_send_lag_p99_seconds``,
  ``surge_worker_in_flight``; ``surge_workers``;
- the run: ``surge_run_info{run_id,schedule}``, ``surge_run_state`` (a state set),
  ``surge_stage`` (numbered from 1, 0 outside the schedule), ``surge_stage_count``,
  ``surge_offered_rate_rps`` (what the schedule asks for now), ``surge_threshold_state``
  (a state set per rule), ``surge_untrustworthy``; for a knee search (``load.search``)
  ``surge_search_step`` and ``surge_search_bracket_rps{bound="low"|"high"}``.

The ``endpoint`` label is the report's endpoint name, method + request name
(``GET /products``, `endpoints.endpoint_label`): ``GET /x`` and ``POST /x`` are two
series. Endpoint labels are bounded (`endpoints.MAX_ENDPOINTS`, the rest is ``other``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from locust import events
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    StateSetMetricFamily,
)

from surge.errors import InfrastructureError
from surge.locustfiles.histogram import BUCKETS_PER_OCTAVE
from surge.locustfiles.live_metrics import LiveMetrics
from surge.trust import ThresholdState

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
#: latency bucket bounds (seconds): from a fast API call to the longest sensible timeout
BUCKETS_S = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
#: after the run, a headless master keeps serving this long so a scraper sees the end
LINGER_S = 5.0
RUN_STATES = ("waiting", "starting", "running", "draining", "aborting", "finished", "aborted",
              "stopped")  # fmt: skip
THRESHOLD_STATES = tuple(s.value for s in ThresholdState)  # one owner: surge.trust
#: every metric family this module exports (the Grafana test checks the dashboard against it)
EXPORTED = (
    "surge_run_info", "surge_run_state", "surge_stage", "surge_stage_count",
    "surge_offered_rate_rps", "surge_requests_offered_total", "surge_requests_sent_total",
    "surge_requests_successful_total", "surge_outcomes_total", "surge_latency_corrected_seconds",
    "surge_latency_uncorrected_seconds", "surge_late_total", "surge_dropped_total",
    "surge_workers", "surge_worker_cpu_percent", "surge_worker_cpu_wait_percent",
    "surge_worker_send_lag_p99_seconds", "surge_worker_in_flight", "surge_threshold_state",
    "surge_untrustworthy", "surge_search_step", "surge_search_bracket_rps",
)  # fmt: skip

StatusFn = Callable[[], dict[str, Any]]


def prometheus_buckets(hist: dict[int, int]) -> list[tuple[str, float]]:
    """surge's log buckets -> cumulative ``(le, count)`` pairs on `BUCKETS_S`.

    A surge bucket counts under the first bound at or above its lower edge.
    """
    counts = [0] * (len(BUCKETS_S) + 1)
    for index, count in hist.items():
        low_s = 2.0 ** (int(index) / BUCKETS_PER_OCTAVE) / 1e6
        slot = next((i for i, b in enumerate(BUCKETS_S) if low_s <= b), len(BUCKETS_S))
        counts[slot] += int(count)
    pairs, running = [], 0
    for bound, count in zip((*map(_le, BUCKETS_S), "+Inf"), counts, strict=True):
        running += count
        pairs.append((bound, float(running)))
    return pairs


def _le(bound: float) -> str:
    return repr(float(bound))


class SurgeCollector:
    """A prometheus_client collector reading the run's state when scraped."""

    def __init__(self, *, live: LiveMetrics, status: StatusFn, schedule_name: str) -> None:
        self.live = live
        self.status = status
        self.schedule_name = schedule_name

    def collect(self) -> Iterator[Metric]:
        status = self.status()
        yield from self._run(status)
        yield from self._requests()
        yield from self._workers(status)

    def describe(self) -> list[Metric]:
        return []  # collected lazily; nothing to check at registration

    def _run(self, status: dict[str, Any]) -> Iterator[Metric]:
        info = GaugeMetricFamily("surge_run_info", "the run (value 1)",
                                 labels=["run_id", "schedule"])  # fmt: skip
        info.add_metric([str(status.get("run_id", "")), self.schedule_name], 1)
        yield info
        state = StateSetMetricFamily("surge_run_state", "the run's state")
        current = status.get("state", "waiting")
        state.add_metric([], {s: s == current for s in RUN_STATES})
        yield state
        live = current in ("starting", "running", "draining", "aborting")
        index = status.get("stage_index")
        stage = index + 1 if live and index is not None else 0
        yield GaugeMetricFamily("surge_stage", "stage number (from 1; 0 outside the schedule)",
                                value=stage)  # fmt: skip
        yield GaugeMetricFamily("surge_stage_count", "stages in the schedule",
                                value=status.get("stage_count", 0))  # fmt: skip
        offered = status.get("offered_rps", 0.0) if live else 0.0
        yield GaugeMetricFamily("surge_offered_rate_rps",
                                "the rate the schedule offers now (req/s, whole fleet)",
                                value=offered or 0.0)  # fmt: skip
        thresholds = StateSetMetricFamily(
            "surge_threshold_state", "live state of each threshold rule", labels=["rule"]
        )
        for t in status.get("thresholds", []):
            thresholds.add_metric([t["rule"]], {s: s == t.get("state") for s in THRESHOLD_STATES})
        yield thresholds
        yield GaugeMetricFamily("surge_untrustworthy", "1 when the generators did not keep up",
                                value=1 if status.get("untrustworthy") else 0)  # fmt: skip
        yield from _search(status.get("search"))

    def _requests(self) -> Iterator[Metric]:
        endpoints, _ = self.live.snapshot()
        doc = {
            "offered": "arrivals (requests due), dropped ones included",
            "sent": "requests actually sent",
            "successful": "requests answered ok or as a valid refusal (success_rate)",
        }
        families = {k: CounterMetricFamily(f"surge_requests_{k}", v, labels=["endpoint"])
                    for k, v in doc.items()}  # fmt: skip
        outcomes = CounterMetricFamily("surge_outcomes", "requests by outcome and error type",
                                       labels=["endpoint", "outcome", "error_type"])  # fmt: skip
        corrected = HistogramMetricFamily(
            "surge_latency_corrected_seconds",
            "latency from the intended send time (coordinated omission corrected)",
            labels=["endpoint"],
        )
        uncorrected = HistogramMetricFamily(
            "surge_latency_uncorrected_seconds", "latency from the actual send (service time)",
            labels=["endpoint"],
        )  # fmt: skip
        for name, totals in sorted(endpoints.items()):
            families["offered"].add_metric([name], totals.offered)
            families["sent"].add_metric([name], totals.sent)
            families["successful"].add_metric([name], totals.successful)
            for (outcome, kind), count in sorted(totals.outcomes.items()):
                outcomes.add_metric([name, outcome, kind], count)
            corrected.add_metric([name], prometheus_buckets(totals.corrected),
                                 totals.sum_corrected_us / 1e6)  # fmt: skip
            uncorrected.add_metric([name], prometheus_buckets(totals.uncorrected),
                                   totals.sum_uncorrected_us / 1e6)  # fmt: skip
        yield from (*families.values(), outcomes, corrected, uncorrected)
        yield CounterMetricFamily("surge_late", "requests sent behind their intended time",
                                  value=self.live.late)  # fmt: skip
        yield CounterMetricFamily("surge_dropped", "requests never sent (max_lateness, stop)",
                                  value=self.live.dropped)  # fmt: skip

    def _workers(self, status: dict[str, Any]) -> Iterator[Metric]:
        _, workers = self.live.snapshot()
        members = {w["id"] for w in status.get("workers", [])}
        yield GaugeMetricFamily("surge_workers", "generator processes in the run",
                                value=len(members))  # fmt: skip
        gauges = {
            "cpu_percent": GaugeMetricFamily("surge_worker_cpu_percent", "worker CPU (%)",
                                             labels=["worker"]),
            "cpu_wait_percent": GaugeMetricFamily(
                "surge_worker_cpu_wait_percent", "time the worker waited for a CPU (%)",
                labels=["worker"]),
            "send_lag_p99_us": GaugeMetricFamily(
                "surge_worker_send_lag_p99_seconds",
                "p99 of actual minus intended send time, last second", labels=["worker"]),
            "in_flight": GaugeMetricFamily("surge_worker_in_flight", "open requests",
                                           labels=["worker"]),
        }  # fmt: skip
        for worker, health in sorted(workers.items()):
            if members and worker not in members:
                continue  # lost or finished workers leave the gauges
            for key, family in gauges.items():
                value = health.get(key)
                if value is not None:
                    family.add_metric([worker], value / 1e6 if key.endswith("_us") else value)
        yield from gauges.values()


def _search(search: dict[str, Any] | None) -> Iterator[Metric]:
    """A knee search (`load.search`): its step and the bracket found so far (req/s)."""
    step = GaugeMetricFamily("surge_search_step", "knee search: steps run so far")
    bracket = GaugeMetricFamily("surge_search_bracket_rps",
                                "knee search: the knee lies between low and high (req/s)",
                                labels=["bound"])  # fmt: skip
    if search:
        step.add_metric([], search.get("step") or 0)
        for bound, value in zip(("low", "high"), search.get("bracket") or (), strict=False):
            if value is not None:
                bracket.add_metric([bound], value)
    yield from (step, bracket)


def make_registry(collector: SurgeCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    return registry


def install_for(environment: Any, controller: Any) -> LiveMetrics:
    """The engine's one call on a master or standalone process: totals plus /metrics."""
    from surge.locustfiles import live_metrics

    live = live_metrics.install(controller.live)  # the controller feeds it
    install(
        environment, live=live, status=controller.status, schedule_name=controller.schedule.name
    )
    return live


def install(environment: Any, *, live: LiveMetrics, status: StatusFn, schedule_name: str) -> None:
    """Serve /metrics on the web UI (if any) and on ``--surge-metrics-port`` (if given)."""
    from prometheus_client import make_wsgi_app

    app = make_wsgi_app(make_registry(SurgeCollector(live=live, status=status,
                                                     schedule_name=schedule_name)))  # fmt: skip
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is not None:
        _route(web_ui.app, app)
    options = environment.parsed_options
    port = getattr(options, "surge_metrics_port", None)
    if port:
        host = getattr(options, "surge_metrics_host", None) or "127.0.0.1"
        _serve(app, host, int(port))
        if options.headless:
            environment.events.quitting.add_listener(_linger)


def _route(flask_app: Any, wsgi_app: Callable) -> None:
    from flask import Response, request

    @flask_app.route(METRICS_PATH)
    def _metrics() -> Any:
        body: list[bytes] = []
        reply: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_a: Any) -> None:
            reply["status"], reply["headers"] = int(status.split()[0]), headers

        body = list(wsgi_app(request.environ, start_response))
        return Response(b"".join(body), status=reply["status"], headers=reply["headers"])


def _serve(wsgi_app: Callable, host: str, port: int) -> None:
    from gevent.pywsgi import WSGIServer

    server = WSGIServer((host, port), wsgi_app, log=None)
    try:
        server.start()  # a greenlet of the master's loop: scrapes never race the run's state
    except OSError as exc:
        raise InfrastructureError(f"cannot serve metrics: {exc.strerror or exc}",
                                  f"--surge-metrics-port {port}") from None  # fmt: skip
    logger.info("Prometheus metrics on http://%s:%d%s", host, port, METRICS_PATH)


def _linger(**_kwargs: Any) -> None:
    import gevent

    logger.info("serving the final metrics for %gs before quitting", LINGER_S)
    gevent.sleep(LINGER_S)


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--surge-metrics-port", type=int, metavar="PORT", include_in_web_ui=False,
        help="also serve Prometheus /metrics on this port (master or standalone)",
    )  # fmt: skip
    parser.add_argument(
        "--surge-metrics-host", metavar="HOST", include_in_web_ui=False,
        help="bind address of --surge-metrics-port (default 127.0.0.1)",
    )  # fmt: skip
