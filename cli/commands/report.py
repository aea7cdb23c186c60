"""`surge report RUN [--compare BASELINE_RUN] [--out DIR]`: build a report; exit as its verdict."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

from surge.errors import UsageError
from surge.manifest import DEFAULT_RESULTS_DIR, read_manifest
from surge.units import parse_duration, parse_fraction

HELP = "Build the report of a run directory (or s3://.../runs/<run_id>) and exit with its verdict."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir", metavar="RUN", help="run directory, or s3://bucket/runs/<run_id>"
    )
    parser.add_argument("--compare", metavar="BASELINE_RUN", help="baseline run to compare with")
    parser.add_argument(
        "--out", metavar="DIR", help="where to write the report (default RUN/report)"
    )
    parser.add_argument(
        "--warmup",
        default="5s",
        metavar="DURATION",
        help="seconds skipped at the start of each hold stage (default 5s)",
    )
    parser.add_argument(
        "--tolerance",
        default="10%",
        metavar="PERCENT",
        help="regression tolerance for --compare (default 10%%)",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="a regression against the baseline fails the verdict (exit 1)",
    )
    parser.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="TYPE=USD",
        help="hourly price of an instance type for the fleet cost (repeatable)",
    )


#: an s3:// run whose request parts take more than this is reported from S3 (its parts
#: read a row group at a time, never downloaded); a smaller one is downloaded first
STREAM_FROM_S3_BYTES = 256 * 2**20


@contextlib.contextmanager
def local_run(text: str) -> Iterator[Path]:
    """A local run directory for RUN: the path itself, or an s3:// run: downloaded first
    when small, else only its small files, the report reading its parts from S3."""
    if not text.startswith("s3://"):
        yield Path(text)
        return
    from surge import s3
    from surge.analysis import remote_parts

    run = s3.parse_run_url(text)
    dest = Path(DEFAULT_RESULTS_DIR) / run.key.split("/")[-1]
    store = s3.S3Store()
    parts = remote_parts.remote_parts(store, run, store.objects(run))
    size = sum(p.size for p in parts)
    if size <= STREAM_FROM_S3_BYTES:
        files = s3.fetch_run(store, run, dest)
        print(f"fetched {len(files)} files from {run} into {dest}")
        yield dest
        return
    files = s3.fetch_run(store, run, dest, skip=remote_parts.is_request_part)
    print(f"fetched {len(files)} files from {run} into {dest}")
    with remote_parts.parts_in_s3(dest, parts):
        search = read_manifest(dest).search
        if search and search.get("spec"):  # a knee search's report reads one frame
            remote_parts.fetch_parts(dest)  # (any other frame reader fetches them too)
        else:
            print(f"reading its {len(parts)} request parts ({size / 2**20:,.0f} MB) from S3")
        yield dest


def _prices(items: list[str]) -> dict[str, float]:
    prices = {}
    for item in items:
        kind, _, usd = item.partition("=")
        try:
            prices[kind.strip()] = float(usd)
        except ValueError:
            raise UsageError(
                "expected TYPE=USD_PER_HOUR, like c6i.xlarge=0.17", f"--price {item}"
            ) from None
    return prices


def run(args: argparse.Namespace) -> int:
    from surge.analysis import build_report

    try:
        warmup_s = parse_duration(args.warmup)
        tolerance = parse_fraction(args.tolerance)
    except ValueError as exc:
        raise UsageError(str(exc), "--warmup/--tolerance") from None
    with contextlib.ExitStack() as stack:
        run_dir = stack.enter_context(local_run(args.run_dir))
        baseline = stack.enter_context(local_run(args.compare)) if args.compare else None
        report = build_report(
            run_dir,
            out_dir=args.out,
            baseline=baseline,
            warmup_s=warmup_s,
            tolerance=tolerance,
            regressions_fail=args.fail_on_regression,
            prices=_prices(args.price),
        )
    print(report.verdict.headline())
    print(f"knee: {report.knee.headline()}")
    if report.broke_first:
        print(f"broke first: {report.broke_first}")
    elif report.knee.broke:
        print(
            f"broke first: {report.knee.broke.cause.value} at "
            f"{report.knee.broke.offered_rps:,.0f} req/s ({report.knee.broke.detail})"
        )
    for note in report.verdict.notes:
        print(f"note: {note}")
    from surge.cli.task_errors import client_switch_lines, task_error_lines

    for line in task_error_lines(run_dir):  # scenario exceptions: not in the records
        print(f"warning: {line}")
    for line in client_switch_lines(run_dir):  # #21: call-time switch to Locust's client
        print(f"note: {line}")
    print(f"report: {report.files['index.html']}")
    return int(report.exit_code)
