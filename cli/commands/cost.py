"""`surge cost --rps R --hours H ...`: what serving a rate costs, serverless vs on servers."""

from __future__ import annotations

import argparse
import json

from surge.errors import ExitCode, UsageError

HELP = "Cost of serving a request rate for some hours: Lambda + API Gateway vs servers."

#: option -> (CostInputs field, help); defaults come from analysis.cost at run time
OPTIONS = (
    ("--lambda-memory-mb", "lambda_memory_mb", "Lambda memory in MB"),
    ("--lambda-duration-ms", "lambda_duration_ms", "billed Lambda duration per request, ms"),
    (
        "--lambda-request-usd-per-million",
        "lambda_request_usd_per_million",
        "Lambda price per million requests",
    ),
    ("--lambda-gb-second-usd", "lambda_gb_second_usd", "Lambda price per GB-second"),
    (
        "--api-gateway-usd-per-million",
        "api_gateway_usd_per_million",
        "API Gateway price per million requests",
    ),
    ("--server-rps", "server_rps", "requests per second one server handles"),
    ("--server-hourly-usd", "server_hourly_usd", "one server's price per hour"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rps", type=float, required=True, help="requests per second to serve")
    parser.add_argument("--hours", type=float, required=True, help="for how many hours")
    for flag, dest, text in OPTIONS:
        parser.add_argument(
            flag,
            dest=dest,
            type=float,
            default=None,
            help=f"{text} (default: a published list price, printed with its source)",
        )
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")


def run(args: argparse.Namespace) -> int:
    from surge.analysis.cost import DEFAULT_ORIGINS, CostInputs, formulas, serverless_vs_servers

    values = {"rps": args.rps, "hours": args.hours}
    values.update(
        {dest: getattr(args, dest) for _, dest, _ in OPTIONS if getattr(args, dest) is not None}
    )
    try:
        inputs = CostInputs(**values)
    except ValueError as exc:
        raise UsageError(str(exc), "surge cost") from None
    result = serverless_vs_servers(inputs)
    if args.json:
        print(json.dumps(result, indent=2))
        return ExitCode.PASSED
    given = set(values)
    print("inputs")
    for name, value in vars(inputs).items():
        origin = "given" if name in given else DEFAULT_ORIGINS[name]
        print(f"  {name:<31} {value:<12g} ({origin})")
    print("formulas")
    for line in formulas(inputs):
        print(f"  {line}")
    print("results")
    s, v = result["serverless"], result["servers"]
    print(
        f"  serverless  ${s['total_usd']:,.2f}  (Lambda ${s['lambda_usd']:,.2f}"
        f" + API Gateway ${s['api_gateway_usd']:,.2f}, {s['requests']:,.0f} requests)"
    )
    print(f"  servers     ${v['total_usd']:,.2f}  ({v['instances']} instances)")
    print("Default prices are published list prices, not measurements; override them above.")
    return ExitCode.PASSED
