"""`surge abort s3://bucket/runs/<run_id>`: the fleet-wide kill switch."""

from __future__ import annotations

import argparse

from surge.errors import ExitCode

HELP = "Stop a running fleet: write the stop object every generator polls."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="s3://bucket/runs/<run_id>")
    parser.add_argument("--reason", default="surge abort", help="recorded in the stop object")


def run(args: argparse.Namespace) -> int:
    from surge.s3 import S3Store, parse_run_url, request_stop

    url = request_stop(S3Store(), parse_run_url(args.url), args.reason)
    print(f"stop requested: {url} (generators stop within a few seconds)")
    return ExitCode.PASSED
