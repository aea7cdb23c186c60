"""`surge agent --env-file /etc/surge/agent.env`: what each fleet instance runs at boot."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Run this instance's part of a fleet run (master or worker), as its env file says."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from surge.provisioning.agent_settings import DEFAULT_ENV_FILE

    parser.add_argument(
        "--env-file",
        default=DEFAULT_ENV_FILE,
        metavar="PATH",
        help=f"settings written by the instance's user data (default {DEFAULT_ENV_FILE})",
    )


def run(args: argparse.Namespace) -> int:
    from surge.provisioning.agent import run_agent
    from surge.provisioning.agent_settings import load_settings

    return run_agent(load_settings(args.env_file), report=build_master_report)


def build_master_report(run_dir: Path) -> int:
    """The master agent's last step: the report of the gathered run, its verdict's code.

    Here, in the CLI, because the CLI is the room above both: provisioning brings the
    run up, analysis reports on it, and neither imports the other."""
    import logging

    from surge.analysis import build_report

    report = build_report(run_dir)
    logging.getLogger("surge.agent").info("verdict: %s", report.verdict.headline())
    return int(report.verdict.exit_code)
