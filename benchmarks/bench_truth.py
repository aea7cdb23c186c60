"""3. Measurement truth: a target that stalls 1 s in every 5 s, offered 200 req/s.

The reference shop holds every request arriving in the last 1 s of each 5 s period
until the period ends. For arrivals spread evenly over time, a request's latency is
``U`` seconds (``U`` uniform in 0..1 s) with probability 1/5 and about zero otherwise, so
``P(latency > x) = (1 s - x) / 5 s``: p90 = 500 ms, p95 = 750 ms, p99 = 950 ms
(`analytic_quantile`). surge (open model, latency from the intended send time) should
report these; Locust's closed model (20 users x constant_throughput(10)) sends less
while the target stalls and measures from the actual send, so it reports less.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from benchmarks.harness import BenchResult, Context, NotRun, Table, fmt, fmt_ratio, median, ratio
from benchmarks.loadgen import locust_argv, schedule_yaml, standalone
from benchmarks.procs import running, spawn, wait
from surge.results import read_requests

NAME = "truth"
TITLE = "3. Measurement truth (shop --stall 1s/5s at 200 req/s)"
STALL = "1s/5s"
HOLD_S, PERIOD_S = 1.0, 5.0
RATE_RPS = 200
LOCUST_USERS = 20  # x constant_throughput(10) = 200 req/s intended
QUANTILES = (0.90, 0.95, 0.99)
EXIT_SLACK_S = 90.0


def analytic_quantile(q: float, hold_s: float = HOLD_S, period_s: float = PERIOD_S) -> float:
    """Latency quantile (seconds) for evenly spread arrivals, ignoring service time."""
    return max(hold_s - (1.0 - q) * period_s, 0.0)


def run(ctx: Context) -> BenchResult:
    try:
        from tests.helpers.shop import running_shop
    except ImportError as exc:
        raise NotRun(f"the reference shop's helper is missing: {exc}") from None
    s = ctx.settings
    duration_s = s.pick(15.0, 5.0)  # whole stall periods
    work = ctx.work_dir(NAME)
    surge_runs: list[dict[str, Any]] = []
    locust_runs: list[dict[str, Any]] = []
    with running_shop(stall=STALL) as shop:
        ctx.log_command(f"python -m surge shop --host 127.0.0.1 --port 0 --stall {STALL}")
        text = schedule_yaml(
            name="bench-truth",
            target=shop.url,
            stages=[(RATE_RPS, duration_s)],
            max_in_flight=2000,
            timeout_s=10.0,
            max_lateness_s=5.0,
        )
        for i in range(s.repeats):
            surge_runs.append(_surge(ctx, text, work / f"surge-{i}", duration_s))
            locust_runs.append(_locust(ctx, shop.url, work / f"locust-{i}", duration_s))
    return _result(surge_runs, locust_runs, duration_s)


def _surge(ctx: Context, text: str, run_dir: Path, duration_s: float) -> dict[str, Any]:
    done = standalone(ctx, text, run_dir, lambda: 0, duration_s=duration_s, cpu=None)
    try:
        frame = read_requests(run_dir, ["latency_us", "service_us", "outcome"]).to_pandas()
    except Exception as exc:
        return {"error": f"no records (exit {done.exit_code}): {exc}"}
    sent = frame[frame["outcome"].astype(str) != "dropped"]
    out: dict[str, Any] = {"rps": len(sent) / duration_s, "dropped": len(frame) - len(sent)}
    for q in QUANTILES:
        out[f"p{q * 100:g}"] = float(frame["latency_us"].quantile(q)) / 1e3
        out[f"service_p{q * 100:g}"] = float(sent["service_us"].quantile(q)) / 1e3
    return out


def _locust(ctx: Context, url: str, prefix: Path, duration_s: float) -> dict[str, Any]:
    argv = locust_argv(
        "PacedProducts", url, users=LOCUST_USERS, seconds=duration_s, extra=["--csv", str(prefix)]
    )
    ctx.log_command(argv)
    proc = spawn(argv, log=prefix.with_suffix(".log"))
    with running(proc):
        wait(proc, duration_s + EXIT_SLACK_S)
    try:
        with open(f"{prefix}_stats.csv", newline="") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    except (OSError, StopIteration) as exc:
        return {"error": f"Locust wrote no stats: {exc}"}
    out: dict[str, Any] = {"rps": float(row["Requests/s"])}
    for q in QUANTILES:
        out[f"p{q * 100:g}"] = float(row[f"{q * 100:g}%"])
    return out


def _result(
    surge_runs: list[dict[str, Any]], locust_runs: list[dict[str, Any]], duration_s: float
) -> BenchResult:
    rows, data = [], {}
    for q in QUANTILES:
        key = f"p{q * 100:g}"
        truth = analytic_quantile(q) * 1e3
        surge = median([r.get(key) for r in surge_runs])
        service = median([r.get(f"service_{key}") for r in surge_runs])
        locust = median([r.get(key) for r in locust_runs])
        rows.append(
            [
                key,
                fmt(truth),
                fmt(surge),
                fmt_ratio(ratio(surge, truth)),
                fmt(locust),
                fmt_ratio(ratio(locust, truth)),
                fmt(service),
            ]
        )
        data[key] = {
            "truth_ms": truth,
            "surge_ms": surge,
            "locust_ms": locust,
            "surge_uncorrected_ms": service,
        }
    surge_rps = median([r.get("rps") for r in surge_runs])
    locust_rps = median([r.get("rps") for r in locust_runs])
    result = BenchResult(
        name=NAME, title=TITLE, data={"quantiles": data, "surge": surge_runs, "locust": locust_runs}
    )
    p95 = data["p95"]
    result.summary = [
        f"p95: truth {fmt(p95['truth_ms'])} ms, surge {fmt(p95['surge_ms'])} ms "
        f"({fmt_ratio(ratio(p95['surge_ms'], p95['truth_ms']))}), Locust closed model "
        f"{fmt(p95['locust_ms'])} ms ({fmt_ratio(ratio(p95['locust_ms'], p95['truth_ms']))}); "
        f"sent {fmt(surge_rps)} vs {fmt(locust_rps)} req/s of {RATE_RPS} intended."
    ]
    result.tables = [
        Table(
            "Latency percentiles, ms (medians over repeats)",
            [
                "percentile",
                "analytic truth",
                "surge",
                "surge ÷ truth",
                "Locust closed",
                "Locust ÷ truth",
                "surge uncorrected (from actual send)",
            ],
            rows,
        ),
        Table(
            "Rate actually sent, req/s (medians)",
            ["intended", "surge", "Locust closed"],
            [[RATE_RPS, fmt(surge_rps, 1), fmt(locust_rps, 1)]],
        ),
    ]
    result.notes = [
        f"Target: the reference shop (`surge shop --stall {STALL}`), GET /products; "
        f"{duration_s:g} s per run (whole stall periods); surge standalone with Poisson "
        f"arrivals at {RATE_RPS} req/s; Locust {LOCUST_USERS} users x constant_throughput(10), "
        "percentiles from its own stats CSV (Aggregated row, Locust rounds them).",
        "Analytic truth: P(latency > x) = (1 s - x) / 5 s for 0 <= x <= 1 s, so "
        "q-quantile = 1 s - (1 - q) x 5 s (benchmarks/README.md); service time on loopback "
        "(a few ms) is left out.",
        *(f"failed repeat: {r['error']}" for r in surge_runs + locust_runs if "error" in r),
    ]
    return result
