"""`surge shop`: run the reference shop, a local stand-in for the serverless shop."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from surge.errors import UsageError

# shop.config and shop.latency are stdlib-only and light; uvicorn is imported in run()
from surge.shop import config as defaults
from surge.shop.config import ShopConfig
from surge.shop.latency import parse_service_time, parse_stall
from surge.units import parse_duration, parse_fraction

HELP = "Run the reference shop (a fast local target with the original's failure modes)."

T = TypeVar("T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _where_arguments(parser)
    _catalogue_arguments(parser)
    _failure_mode_arguments(parser)


def _where_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("where")
    where.add_argument(
        "--host", default=defaults.DEFAULT_HOST, help="address to bind (default loopback)"
    )
    where.add_argument(
        "--port", type=int, default=defaults.DEFAULT_PORT, help="port (8080); 0 picks a free one"
    )
    where.add_argument(
        "--credentials",
        type=Path,
        metavar="PATH",
        help="credentials file to write (default: <tmp>/surge-shop-<port>/credentials.json)",
    )


def _catalogue_arguments(parser: argparse.ArgumentParser) -> None:
    shop = parser.add_argument_group("catalogue and users")
    shop.add_argument(
        "--users", type=int, default=defaults.DEFAULT_USERS, help="seeded users user0001.. (100)"
    )
    shop.add_argument(
        "--seed", default=defaults.DEFAULT_SEED, help="derives passwords and the token key"
    )
    shop.add_argument(
        "--products", type=int, default=defaults.DEFAULT_PRODUCTS, help="number of products (10)"
    )
    shop.add_argument(
        "--stock", type=int, default=defaults.DEFAULT_STOCK, help="initial stock per product"
    )
    shop.add_argument(
        "--max-quantity",
        type=int,
        default=defaults.DEFAULT_MAX_QUANTITY,
        help="per-order limit (10)",
    )
    shop.add_argument(
        "--client-id", default=defaults.DEFAULT_CLIENT_ID, help="Cognito app client id"
    )
    shop.add_argument("--token-ttl", default="1h", metavar="D", help="token lifetime (1h)")
    shop.add_argument("--admin-key", help="key for POST /admin/reset (default: random)")


def _failure_mode_arguments(parser: argparse.ArgumentParser) -> None:
    modes = parser.add_argument_group("failure modes (all off by default)")
    modes.add_argument(
        "--write-capacity",
        type=float,
        metavar="W",
        help="writes/s per partition key; buys beyond answer 500",
    )
    modes.add_argument(
        "--write-burst",
        type=float,
        metavar="B",
        help="token-bucket size per key (default 0.1 s of capacity)",
    )
    modes.add_argument(
        "--write-retries",
        type=int,
        default=0,
        metavar="N",
        help="SDK-like retries (with backoff) of a throttled write; 10 = Node.js SDK v2",
    )
    modes.add_argument(
        "--function-timeout",
        metavar="D",
        help="the buy function stops retrying a throttled write after D, e.g. 2.9s"
        " (the original's limit: API Gateway's 29s)",
    )
    modes.add_argument(
        "--shards",
        type=int,
        default=1,
        metavar="K",
        help="partition keys per product (write sharding)",
    )
    modes.add_argument(
        "--cold-start",
        default="0s",
        metavar="D",
        help="init delay of a new function instance, e.g. 800ms",
    )
    modes.add_argument(
        "--idle-timeout", default="10m", metavar="D", help="idle instances go cold after this (10m)"
    )
    modes.add_argument(
        "--concurrency-limit",
        type=int,
        metavar="N",
        help="concurrent instances; requests beyond answer 429",
    )
    modes.add_argument(
        "--service-time",
        default="0ms",
        metavar="DIST",
        help="20ms | exp:20ms | uniform:5ms,50ms | lognormal:20ms,0.5",
    )
    modes.add_argument(
        "--stall",
        metavar="HOLD/PERIOD",
        help="hold requests arriving in the last HOLD of every PERIOD, e.g. 1s/5s",
    )
    modes.add_argument(
        "--error-rate",
        default="0",
        metavar="R",
        help="fraction of API requests answered 502, e.g. 1%% or 0.01",
    )
    modes.add_argument("--random-seed", type=int, help="seed for errors and service times")


def _parse(flag: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as exc:
        raise UsageError(f"{flag} {text!r}: {exc}", "surge shop") from None


def config_from_args(args: argparse.Namespace) -> ShopConfig:
    """Turn parsed flags into a validated `ShopConfig` (every value parsed here, once)."""
    changes: dict[str, object] = {}
    if args.admin_key is not None:
        changes["admin_key"] = args.admin_key
    return ShopConfig(
        host=args.host,
        port=args.port,
        users=args.users,
        seed=args.seed,
        products=args.products,
        stock=args.stock,
        max_quantity=args.max_quantity,
        client_id=args.client_id,
        token_ttl_s=_parse("--token-ttl", parse_duration, args.token_ttl),
        write_capacity=args.write_capacity,
        write_burst=args.write_burst,
        shards=args.shards,
        write_retries=args.write_retries,
        function_timeout_s=(
            _parse("--function-timeout", parse_duration, args.function_timeout)
            if args.function_timeout
            else None
        ),
        cold_start_s=_parse("--cold-start", parse_duration, args.cold_start),
        idle_timeout_s=_parse("--idle-timeout", parse_duration, args.idle_timeout),
        concurrency_limit=args.concurrency_limit,
        service_time=_parse("--service-time", parse_service_time, args.service_time),
        stall=_parse("--stall", parse_stall, args.stall) if args.stall else None,
        error_rate=_parse("--error-rate", parse_fraction, _number_or_text(args.error_rate)),
        credentials_path=args.credentials,
        random_seed=args.random_seed,
        **changes,
    ).validated()


def _number_or_text(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return text


def run(args: argparse.Namespace) -> int:
    from surge.shop.server import exit_code_for, serve

    return exit_code_for(serve(config_from_args(args)))
