"""A real Prometheus (Debian's package) scrapes a real local run's master every second.

`surge run --metrics-port P` runs headless against the reference shop with two
workers; Prometheus, started by the test with a one-second scrape interval, keeps
every sample. Afterwards PromQL over its HTTP API must agree with surge's own
records: the requests sent over the run within 2 % (they are in fact the same
counts), and the corrected-latency histogram's count exactly. Every query of the
Grafana dashboard then runs on that server without error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from surge.errors import ExitCode
from surge.provisioning.local import free_port
from surge.results import read_requests
from tests.helpers.agents import live_schedule_yaml
from tests.helpers.children import stop_child, wait_until_answers
from tests.helpers.shop import running_shop

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = "/usr/bin/prometheus"
READY_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 120.0
RANGE = "[10m]"  # longer than the whole test: every sample of the run


@contextmanager
def prometheus(tmp: Path, scrape_port: int) -> Iterator[str]:
    """Prometheus scraping 127.0.0.1:`scrape_port` every second; yields its API base URL."""
    if not shutil.which(PROMETHEUS):
        pytest.skip("prometheus is not installed (scripts/system-deps.sh installs it)")
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: surge\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{scrape_port}']}}]\n"
    )
    port = free_port()
    log = open(tmp / "prometheus.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(url + "/-/ready", proc, what="prometheus", timeout_s=READY_TIMEOUT_S,
                           poll_s=0.2, detail=(tmp / "prometheus.log").read_text)  # fmt: skip
        yield url
    finally:
        stop_child(proc)
        log.close()


def query(url: str, expr: str) -> dict:
    """An instant query through Prometheus's HTTP API; its JSON answer (errors too)."""
    address = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(address, timeout=10) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as exc:  # 400: a bad expression, with Prometheus's reason
        return json.loads(exc.read())


def promql(url: str, expr: str) -> float:
    """One instant query; the single result's value (the test's queries are sums)."""
    data = query(url, expr)
    assert data["status"] == "success", data
    (result,) = data["data"]["result"]
    return float(result["value"][1])


def dashboard_exprs() -> list[str]:
    """The Grafana dashboard's queries, with Grafana's variables filled in."""
    dashboard = json.loads((REPO / "docs" / "grafana" / "surge-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    return [e.replace("$__rate_interval", "5s").replace("$instance", ".*") for e in exprs]


def test_prometheus_scraping_the_master_counts_what_surge_recorded(tmp_path: Path) -> None:
    metrics_port = free_port()
    with running_shop() as shop, prometheus(tmp_path, metrics_port) as prom:
        schedule = tmp_path / "schedule.yaml"
        stages = "[{rps: 30, duration: 4s}, {rps: 60, duration: 4s}]"
        schedule.write_text(
            live_schedule_yaml(
                target=shop.url, name="prom", stages=stages, extra="allow_hosts: [127.0.0.1]\n"
            )
        )
        out = tmp_path / "results"
        done = subprocess.run(
            [sys.executable, "-m", "surge", "run", str(schedule), "--workers", "2",
             "--metrics-port", str(metrics_port), "--out", str(out)],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "CI": "true"},
            capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
        )  # fmt: skip
        assert done.returncode == ExitCode.PASSED, done.stdout + done.stderr
        assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in done.stderr
        (run_dir,) = out.iterdir()
        assert (
            "Prometheus metrics on http://127.0.0.1:" in (run_dir / "logs/master.log").read_text()
        )

        sent = promql(prom, f"sum(max_over_time(surge_requests_sent_total{RANGE}))")
        histogram_count = promql(
            prom, f"sum(max_over_time(surge_latency_corrected_seconds_count{RANGE}))"
        )
        finished = promql(
            prom, f'max_over_time(surge_run_state{{surge_run_state="finished"}}{RANGE})'
        )
        last_stage = promql(prom, f"max_over_time(surge_stage{RANGE})")
        # every expression of the Grafana dashboard is valid PromQL for this server
        for expr in dashboard_exprs():
            assert query(prom, expr)["status"] == "success", expr

    outcomes = read_requests(run_dir, columns=["outcome"]).column("outcome").to_pylist()
    recorded_sent = sum(o != "dropped" for o in outcomes)
    assert recorded_sent >= 340  # 30/s for 4 s + 60/s for 4 s: 360 arrivals
    assert abs(sent - recorded_sent) <= 0.02 * recorded_sent
    assert histogram_count == recorded_sent  # every answered request, once
    assert finished == 1  # the final state was scraped (the master lingers for it)
    assert last_stage == 2  # stages are numbered from 1
