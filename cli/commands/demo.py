"""`surge demo [--sharded]`: the reference experiment, scaled to this machine.

Starts the reference shop with its hot-partition write limit on (one product, so
every purchase hits one partition, as in the original), runs
schedules/demo-staircase.yaml against it, and prints the knee, the verdict and the
report. `--sharded` turns the shop's write sharding on and compares with the
previous unsharded demo run. The shop is stopped however the run ends.
"""

from __future__ import annotations

import argparse

HELP = "Run the reference experiment against the bundled shop and print the report path."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sharded",
        action="store_true",
        help="write sharding on in the shop; compare with the previous demo run",
    )
    parser.add_argument(
        "--out", default="results", metavar="DIR", help="results directory (default results/)"
    )


def run(args: argparse.Namespace) -> int:
    from surge.cli.demo import run_demo

    return run_demo(sharded=args.sharded, out_dir=args.out)
