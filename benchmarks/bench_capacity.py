"""6. Capacity on paper: EC2 instances for 10,000 req/s over HTTPS keep-alive, and their cost.

Measured here: surge's one-core capacity over HTTPS keep-alive against a loopback nginx
with a self-signed certificate made by openssl for this run (the TLS cost per request
is the CPU difference to plain HTTP from benchmark 1, same staircase rules). wrk over
HTTP and HTTPS is the anchor. Computed: with 50 % headroom (generators planned at half
their capacity) and one worker per vCPU, as the instance agent runs them, how many
instances of each type carry 10,000 req/s, at published on-demand prices
(`analysis.cost.INSTANCE_HOURLY_USD`), next to the original 100 c4.xlarge.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks.generator_efficiency import NAME as GENERATOR
from benchmarks.generator_efficiency import (
    capacity_rps,
    cpu_us_per_request,
    guard,
    open_model_capacity,
)
from benchmarks.harness import BenchResult, Context, NotRun, Table, fmt, fmt_ratio, median, ratio
from benchmarks.loadgen import GeneratorKind, closed_loop
from benchmarks.nginx import running_nginx
from surge.analysis.cost import INSTANCE_HOURLY_USD, PRICES_AS_OF

NAME = "capacity"
TITLE = "6. Capacity on paper (10,000 req/s over HTTPS keep-alive)"
REQUIRES = (GENERATOR,)
GOAL_RPS = 10_000
HEADROOM = 0.5  # plan generators at half their measured capacity
#: vCPUs per instance type (AWS instance specifications); one surge worker per vCPU
VCPUS = {"c6i.large": 2, "c6i.xlarge": 4, "c7g.xlarge": 4, "c4.xlarge": 4}
CANDIDATES = ("c6i.large", "c6i.xlarge", "c7g.xlarge")
ORIGINAL = ("c4.xlarge", 100)  # the original experiment's fleet
TLS_STEP_FACTORS_FULL = (0.5, 0.7, 0.9, 1.1, 1.3)
TLS_STEP_FACTORS_QUICK = (0.5, 1.0)


def run(ctx: Context) -> BenchResult:
    http_capacity = capacity_rps(ctx)
    if not http_capacity:
        raise NotRun("benchmark 1 (generator) found no one-core capacity in this run")
    http_cpu_us = cpu_us_per_request(ctx)
    s = ctx.settings
    stage_s, warmup_s, window_s = s.pick(2.5, 1.5), s.pick(2.0, 1.0), s.pick(6.0, 2.0)
    work = ctx.work_dir(NAME)
    factors = s.pick(TLS_STEP_FACTORS_FULL, TLS_STEP_FACTORS_QUICK)
    rates = [round(f * http_capacity, -1) for f in factors]
    tls_runs: list[dict[str, Any]] = []
    wrk: dict[str, list[float | None]] = {"http": [], "https": []}
    with running_nginx(tls=True) as nginx:
        assert nginx.tls_url is not None
        for i in range(s.repeats):
            tls_runs.append(
                guard(
                    lambda i=i: open_model_capacity(
                        ctx,
                        nginx.tls_url,
                        nginx.requests,
                        rates,
                        stage_s,
                        work / f"surge-tls-{i}",
                        name="bench-tls",
                    )
                )
            )
            for scheme, url in (("http", nginx.url), ("https", nginx.tls_url)):
                wrk[scheme].append(
                    guard(
                        lambda url=url, scheme=scheme, i=i: closed_loop(
                            ctx,
                            GeneratorKind.WRK,
                            url,
                            nginx.requests,
                            warmup_s=warmup_s,
                            window_s=window_s,
                            log=work / f"wrk-{scheme}-{i}.log",
                        ).as_dict()
                    ).get("rps")
                )
    https_capacity = median([r.get("capacity_rps") for r in tls_runs])
    https_cpu_us = median([r.get("cpu_us") for r in tls_runs])
    return _result(http_capacity, http_cpu_us, https_capacity, https_cpu_us, tls_runs, wrk, rates)


def fleet_for(per_core_rps: float, instance: str) -> dict[str, Any]:
    """Instances of one type for `GOAL_RPS` at `HEADROOM`, and what they cost per hour."""
    per_instance = per_core_rps * VCPUS[instance] * (1 - HEADROOM)
    count = math.ceil(GOAL_RPS / per_instance)
    price = INSTANCE_HOURLY_USD[instance]
    return {
        "instance": instance,
        "vcpus": VCPUS[instance],
        "planned_rps_per_instance": per_instance,
        "instances": count,
        "usd_per_hour": count * price,
        "price": price,
    }


def _result(
    http_capacity: float,
    http_cpu_us: float | None,
    https_capacity: float | None,
    https_cpu_us: float | None,
    tls_runs: list[dict[str, Any]],
    wrk: dict[str, list[float | None]],
    rates: list[float],
) -> BenchResult:
    per_core = https_capacity or http_capacity
    fleets = [fleet_for(per_core, kind) for kind in CANDIDATES]
    kind, count = ORIGINAL
    original = {
        "instance": kind,
        "vcpus": VCPUS[kind],
        "instances": count,
        "usd_per_hour": count * INSTANCE_HOURLY_USD[kind],
        "price": INSTANCE_HOURLY_USD[kind],
    }
    tls_cost = None if https_cpu_us is None or http_cpu_us is None else https_cpu_us - http_cpu_us
    wrk_http, wrk_https = median(wrk["http"]), median(wrk["https"])
    rows = [
        [
            f["instance"],
            f["vcpus"],
            fmt(f["planned_rps_per_instance"]),
            f["instances"],
            f"${f['price']:.4g}",
            f"${f['usd_per_hour']:,.2f}",
            fmt_ratio(ratio(f["usd_per_hour"], original["usd_per_hour"])),
        ]
        for f in fleets
    ] + [
        [
            f"{kind} (original experiment)",
            VCPUS[kind],
            "50 (their goal: 5,000 req/s in total)",
            count,
            f"${original['price']:.4g}",
            f"${original['usd_per_hour']:,.2f}",
            "1.00x",
        ]
    ]
    cheapest = min(fleets, key=lambda f: f["usd_per_hour"])
    result = BenchResult(name=NAME, title=TITLE)
    result.summary = [
        f"10,000 req/s over HTTPS with 50 % headroom: {cheapest['instances']} x "
        f"{cheapest['instance']} (${cheapest['usd_per_hour']:,.2f}/h) vs the original "
        f"{count} x {kind} (${original['usd_per_hour']:,.2f}/h, which reached 5,000 req/s).",
        f"One core: {fmt(https_capacity)} req/s over HTTPS vs {fmt(http_capacity)} over HTTP; "
        f"TLS adds {fmt(tls_cost, 1)} µs CPU per request (keep-alive).",
    ]
    result.tables = [
        Table(
            "surge on one core, HTTP vs HTTPS keep-alive (medians)",
            ["", "HTTP (benchmark 1)", "HTTPS", "HTTPS ÷ HTTP"],
            [
                [
                    "surge capacity req/s",
                    fmt(http_capacity),
                    fmt(https_capacity),
                    fmt_ratio(ratio(https_capacity, http_capacity)),
                ],
                [
                    "surge CPU µs/req",
                    fmt(http_cpu_us, 1),
                    fmt(https_cpu_us, 1),
                    fmt_ratio(ratio(https_cpu_us, http_cpu_us)),
                ],
                [
                    "wrk req/s (anchor)",
                    fmt(wrk_http),
                    fmt(wrk_https),
                    fmt_ratio(ratio(wrk_https, wrk_http)),
                ],
            ],
        ),
        Table(
            f"Fleet for {GOAL_RPS:,} req/s ({PRICES_AS_OF}, Linux)",
            [
                "instance",
                "vCPUs",
                "planned req/s per instance",
                "instances",
                "price/h",
                "fleet $/h",
                "÷ original fleet",
            ],
            rows,
        ),
    ]
    result.notes = [
        *(
            []
            if https_capacity
            else [
                "No HTTPS capacity was found in this run (no step kept up): the fleet below "
                "uses the HTTP capacity of benchmark 1 and so underestimates the instances."
            ]
        ),
        f"Assumptions: one surge worker per vCPU (the instance agent's default); each vCPU "
        f"carries this machine's one-core capacity ({fmt(per_core)} req/s); generators "
        f"planned at {1 - HEADROOM:.0%} of capacity. c6i.large's two vCPUs are one physical "
        "core's two hyperthreads and c7g is Graviton (Arm): neither was measured here, so "
        "treat their rows as estimates to confirm with one instance before buying a fleet.",
        "Master: one more process on one of the instances; its CPU at 64 workers is in "
        "benchmark 5. Network bandwidth: at ~1 KB per response, 10,000 req/s is ~80 Mbit/s, "
        "far below any listed instance's limit.",
        f"TLS endpoint: nginx with a self-signed P-256 certificate (openssl, made at bench "
        f"time), TLS 1.3, one keep-alive connection per slot, one client TLS context shared "
        f"by all slots (locustfiles/client.py: shared_tls_context); surge's staircase "
        f"{', '.join(fmt(r) for r in rates)} req/s, {len(tls_runs)} repeat(s).",
        "Prices: published on-demand list prices, not measurements (analysis/cost.py); the "
        "original experiment's fleet cost uses the same table.",
    ]
    result.data = {
        "http_capacity_rps": http_capacity,
        "https_capacity_rps": https_capacity,
        "http_cpu_us": http_cpu_us,
        "https_cpu_us": https_cpu_us,
        "tls_cpu_us": tls_cost,
        "wrk": wrk,
        "tls_runs": tls_runs,
        "fleets": fleets,
        "original": original,
        "prices": PRICES_AS_OF,
    }
    return result
