"""`surge agent --env-file /etc/surge/agent.env`: what each fleet instance runs at boot."""

from __future__ import annotations

import argparse

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

    return run_agent(load_settings(args.env_file))
