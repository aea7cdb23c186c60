"""`surge fetch s3://bucket/runs/<run_id> [DIR]`: download a run directory from S3."""

from __future__ import annotations

import argparse
from pathlib import Path

from surge.errors import ExitCode
from surge.manifest import DEFAULT_RESULTS_DIR

HELP = "Download a run's results from S3 into a local run directory."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="s3://bucket/runs/<run_id>")
    parser.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        help=f"run directory to create (default: {DEFAULT_RESULTS_DIR}/<run_id>)",
    )


def run(args: argparse.Namespace) -> int:
    from surge.s3 import S3Store, fetch_run, parse_run_url

    run = parse_run_url(args.url)
    dest = Path(args.dir) if args.dir else Path(DEFAULT_RESULTS_DIR) / run.key.split("/")[-1]
    files = fetch_run(S3Store(), run, dest)
    print(f"fetched {len(files)} files from {run} into {dest}{_state(dest)}")
    return ExitCode.PASSED


def _state(dest: Path) -> str:
    """The fetched run's state, read through the manifest type: a run of a format this
    surge cannot read is refused here (exit 2), not later by a confusing report. A run
    whose master never wrote a manifest is still fetched (the report explains it)."""
    from surge.results import MANIFEST, Manifest

    if not (dest / MANIFEST).exists():
        return " (no manifest: the master wrote none)"
    manifest = Manifest.load(dest)
    return f" (run {manifest.state.value})" if manifest.state else ""
