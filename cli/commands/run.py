"""`surge run SCHEDULE`: run a schedule on this machine, report, exit with the verdict."""

from __future__ import annotations

import argparse

HELP = "Run a schedule locally (Locust master + workers), then report and exit with the verdict."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("schedule", metavar="SCHEDULE", help="schedule YAML path or s3:// URL")
    parser.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="local worker processes (default: one per core, minus one)",
    )
    parser.add_argument(
        "--ui",
        action="store_true",
        help="start Locust's web UI on 127.0.0.1:8089 with the schedule loaded; press Start there",
    )
    parser.add_argument(
        "--target", metavar="URL", help="override the schedule's target (must be in allow_hosts)"
    )
    parser.add_argument(
        "--out", default="results", metavar="DIR", help="results directory (default results/)"
    )
    parser.add_argument("--junit", metavar="FILE", help="also write the JUnit XML here (for CI)")


def _workers(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 256:
        raise argparse.ArgumentTypeError("expected a number of worker processes, 0-256")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from surge.cli.session import run_and_report

    outcome = run_and_report(
        args.schedule,
        workers=args.workers,
        target=args.target,
        ui=args.ui,
        out_dir=args.out,
        junit=args.junit,
    )
    return outcome.exit_code
