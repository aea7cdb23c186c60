"""Cost: the run's own fleet, and serving a rate serverless vs on servers.

Every default below is a published AWS on-demand list price (us-east-1, Linux,
first pricing tier, as of `PRICES_AS_OF`), named in every output so nobody takes it
for a measurement. Override them for another region, tier or discount.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from surge.results import Manifest

PRICES_SOURCE = "us-east-1, 2025"
PRICES_AS_OF = f"AWS on-demand list prices ({PRICES_SOURCE})"

#: EC2 on-demand USD per hour (Linux, us-east-1)
INSTANCE_HOURLY_USD: dict[str, float] = {
    "t2.micro": 0.0116,
    "t3.micro": 0.0104,
    "c4.xlarge": 0.199,
    "c5.large": 0.085,
    "c5.xlarge": 0.17,
    "c6i.large": 0.085,
    "c6i.xlarge": 0.17,
    "c7g.large": 0.0725,
    "c7g.xlarge": 0.145,
    "m5.xlarge": 0.192,
    "m4.4xlarge": 0.80,
}
EC2_MINIMUM_BILLED_S = 60.0  # per-second billing with a one-minute minimum

LAMBDA_REQUEST_USD_PER_MILLION = 0.20
LAMBDA_GB_SECOND_USD = 0.0000166667  # x86, first 6 billion GB-s a month
API_GATEWAY_USD_PER_MILLION = 3.50  # REST API (Cognito authorizer), first 333 million
LAMBDA_MEMORY_MB = 128  # the original shop's functions
LAMBDA_DURATION_MS = 100.0  # billed per 1 ms, rounded up
SERVER_RPS = 75.0  # the original team measured an Express app at 75 req/s per m4.4xlarge
SERVER_HOURLY_USD = INSTANCE_HOURLY_USD["m4.4xlarge"]

#: where each default comes from, printed next to it
DEFAULT_ORIGINS: dict[str, str] = {
    "lambda_memory_mb": "default: the original shop's 128 MB functions",
    "lambda_duration_ms": "default: an assumed 100 ms per call; measure yours",
    "lambda_request_usd_per_million": f"default: Lambda list price ({PRICES_SOURCE})",
    "lambda_gb_second_usd": f"default: Lambda x86 list price ({PRICES_SOURCE})",
    "api_gateway_usd_per_million": f"default: API Gateway REST list price ({PRICES_SOURCE})",
    "server_rps": "default: the original team's Express app on one m4.4xlarge",
    "server_hourly_usd": f"default: m4.4xlarge on-demand ({PRICES_SOURCE})",
}


#: bounds that keep every product finite (a trillion requests per second for a trillion
#: hours is still a finite float); beyond them `surge cost` says so instead of overflowing
MAX_COST_INPUT = 1e12
MIN_SERVER_RPS = 1e-3


@dataclass(frozen=True)
class CostInputs:
    """What serving `rps` for `hours` costs; every price overridable."""

    rps: float
    hours: float
    lambda_memory_mb: float = LAMBDA_MEMORY_MB
    lambda_duration_ms: float = LAMBDA_DURATION_MS
    lambda_request_usd_per_million: float = LAMBDA_REQUEST_USD_PER_MILLION
    lambda_gb_second_usd: float = LAMBDA_GB_SECOND_USD
    api_gateway_usd_per_million: float = API_GATEWAY_USD_PER_MILLION
    server_rps: float = SERVER_RPS
    server_hourly_usd: float = SERVER_HOURLY_USD

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
            if value > MAX_COST_INPUT:  # 1e308 * 1e308 overflows; no shop is that big
                raise ValueError(
                    f"{name} {value:g} is beyond any sense (at most {MAX_COST_INPUT:g})"
                )
        if self.server_rps < MIN_SERVER_RPS:
            raise ValueError(f"server_rps must be at least {MIN_SERVER_RPS:g}")


def serverless_vs_servers(inputs: CostInputs) -> dict[str, dict[str, float]]:
    """The two totals, in the JSON shape `surge cost --json` prints."""
    requests = round(inputs.rps * inputs.hours * 3600.0)
    billed_s = math.ceil(inputs.lambda_duration_ms) / 1000.0
    gb_seconds = requests * billed_s * inputs.lambda_memory_mb / 1024.0
    lambda_usd = (
        requests / 1e6 * inputs.lambda_request_usd_per_million
        + gb_seconds * inputs.lambda_gb_second_usd
    )
    api_usd = requests / 1e6 * inputs.api_gateway_usd_per_million
    instances = math.ceil(inputs.rps / inputs.server_rps - 1e-9) if inputs.rps > 0 else 0
    return {
        "serverless": {
            "requests": requests,
            "lambda_usd": round(lambda_usd, 2),
            "api_gateway_usd": round(api_usd, 2),
            "total_usd": round(lambda_usd + api_usd, 2),
        },
        "servers": {
            "instances": instances,
            "total_usd": round(instances * inputs.server_hourly_usd * inputs.hours, 2),
        },
    }


def formulas(inputs: CostInputs) -> list[str]:
    """The arithmetic, written out with the inputs, for people to check."""
    r = serverless_vs_servers(inputs)
    s, v = r["serverless"], r["servers"]
    billed_ms = math.ceil(inputs.lambda_duration_ms)
    return [
        f"requests       = rps x hours x 3600 = {inputs.rps:g} x {inputs.hours:g} x 3600"
        f" = {s['requests']:,.0f}",
        f"lambda_usd     = requests / 1e6 x {inputs.lambda_request_usd_per_million:g}"
        f" + requests x {billed_ms} ms / 1000 x {inputs.lambda_memory_mb:g} MB / 1024"
        f" x {inputs.lambda_gb_second_usd:g} = ${s['lambda_usd']:,.2f}",
        f"api_gateway_usd = requests / 1e6 x {inputs.api_gateway_usd_per_million:g}"
        f" = ${s['api_gateway_usd']:,.2f}",
        f"serverless     = lambda_usd + api_gateway_usd = ${s['total_usd']:,.2f}",
        f"instances      = ceil(rps / server_rps) = ceil({inputs.rps:g} / {inputs.server_rps:g})"
        f" = {v['instances']}",
        f"servers        = instances x {inputs.server_hourly_usd:g} USD/h x {inputs.hours:g} h"
        f" = ${v['total_usd']:,.2f}",
    ]


@dataclass(frozen=True)
class FleetCost:
    """What the run's own generator fleet cost (0 for a local run)."""

    instances: dict[str, int]  # instance type -> count
    hours: float
    usd: float | None  # None: an instance type without a known price
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "instances": self.instances,
            "hours": self.hours,
            "usd": self.usd,
            "notes": list(self.notes),
            "prices": PRICES_AS_OF,
        }


def _run_hours(manifest: Manifest, duration_s: float) -> float:
    if manifest.started_at and manifest.ended_at:
        seconds = (manifest.ended_at - manifest.started_at).total_seconds()
    else:
        seconds = duration_s
    return max(seconds, EC2_MINIMUM_BILLED_S) / 3600.0


def fleet_instances(manifest: Manifest) -> dict[str, int]:
    """Instance type -> count: the distinct hosts with a type among the workers and the
    master (several worker processes share one instance)."""
    hosts: dict[str, str] = {}
    processes = [(w.host or w.id, w.instance_type) for w in manifest.workers]
    if manifest.master is not None:
        processes.append((manifest.master.host, manifest.master.instance_type))
    for host, instance_type in processes:
        if instance_type:
            hosts.setdefault(host or str(len(hosts)), instance_type)  # a host is one instance
    return dict(Counter(hosts.values()))


def fleet_cost(
    manifest: Manifest,
    duration_s: float,
    prices: Mapping[str, float] | None = None,
) -> FleetCost:
    """Instances x hourly price x hours, billed per second with a one-minute minimum."""
    table = {**INSTANCE_HOURLY_USD, **(prices or {})}
    instances = fleet_instances(manifest)
    hours = _run_hours(manifest, duration_s)
    if not instances:
        return FleetCost(
            {}, hours, 0.0, ("local run: no cloud instances recorded in the manifest",)
        )
    unknown = sorted(t for t in instances if t not in table)
    if unknown:
        return FleetCost(
            instances,
            hours,
            None,
            (f"no price for {', '.join(unknown)}; pass one with --price TYPE=USD",),
        )
    usd = sum(count * table[kind] * hours for kind, count in instances.items())
    return FleetCost(instances, hours, round(usd, 2), ())
