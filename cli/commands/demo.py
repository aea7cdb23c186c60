"""`surge demo [--sharded]`: the reference experiment, scaled to this machine.

Starts the reference shop with its hot-partition write limit on (one product, so
every purchase hits one partition, as in the original), runs the packaged demo
schedule (cli/schedules/demo-staircase.yaml) against it, and prints the knee, the
verdict and the report. `--sharded` turns the shop's write sharding on and compares with the
previous unsharded demo run. The shop is stopped however the run ends.
"""

from __future__ import annotations

import argparse

from surge.manifest import DEFAULT_RESULTS_DIR

HELP = "Run the reference experiment against the bundled shop and print the report path."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sharded",
        action="store_true",
        help="write sharding on in the shop; compare with the previous demo run",
    )
    parser.add_argument(
        "--search",
        action="store_true",
        help="find the knee with a capacity search (load.search) instead of the staircase; "
        "compare with the previous staircase demo run",
    )
    parser.add_argument(
        "--out",
        default=str(DEFAULT_RESULTS_DIR),
        metavar="DIR",
        help=f"results directory (default {DEFAULT_RESULTS_DIR}/)",
    )


def run(args: argparse.Namespace) -> int:
    from surge.cli.demo import run_demo

    return run_demo(sharded=args.sharded, search=args.search, out_dir=args.out)
