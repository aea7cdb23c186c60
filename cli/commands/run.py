"""`surge run SCHEDULE`: run a schedule on this machine, report, exit with the verdict."""

from __future__ import annotations

import argparse

from surge.manifest import DEFAULT_RESULTS_DIR

HELP = "Run a schedule locally (Locust master + workers), then report and exit with the verdict."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("schedule", metavar="SCHEDULE", help="schedule YAML path or s3:// URL")
    parser.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="local worker processes (default: one per core, minus one; 0: one standalone process)",
    )
    parser.add_argument(
        "--ui",
        action="store_true",
        help="start Locust's web UI with the schedule loaded (surge view at /surge/); press "
        "Start there. The run still ends with the schedule and exits with the verdict; the UI "
        "stays up until Enter or Ctrl-C",
    )
    parser.add_argument(
        "--web-host",
        metavar="HOST",
        help="web UI bind address (default 127.0.0.1; any other needs SURGE_UI_USER and "
        "SURGE_UI_PASSWORD)",
    )
    parser.add_argument("--web-port", type=_port, metavar="PORT", help="web UI port (default 8089)")
    parser.add_argument(
        "--ui-exit", action="store_true", help="with --ui: quit as soon as the report is built"
    )
    parser.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="serve Prometheus metrics on 127.0.0.1:PORT/metrics while the run lasts",
    )
    parser.add_argument(
        "--target", metavar="URL", help="override the schedule's target (must be in allow_hosts)"
    )
    parser.add_argument(
        "--out",
        default=str(DEFAULT_RESULTS_DIR),
        metavar="DIR",
        help=f"results directory (default {DEFAULT_RESULTS_DIR}/)",
    )
    parser.add_argument("--junit", metavar="FILE", help="also write the JUnit XML here (for CI)")


def _workers(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 256:
        raise argparse.ArgumentTypeError("expected a number of worker processes, 0-256")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError("expected a port number, 1-65535")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from surge.cli.session import run_and_report
    from surge.cli.ui_session import UIOptions

    outcome = run_and_report(
        args.schedule,
        workers=args.workers,
        target=args.target,
        ui=args.ui,
        out_dir=args.out,
        junit=args.junit,
        ui_options=UIOptions.from_args(args),
    )
    return outcome.exit_code
