"""`surge schedule validate FILE`: check a schedule and summarise what it will offer."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from surge.errors import ExitCode
from surge.schedule import Schedule, load_schedule
from surge.units import format_duration

HELP = "Validate schedules (what they will offer), or push one to S3 with its scenario bundle."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = "check schedule files and their scenarios; print what each will offer"
    validate = actions.add_parser(
        "validate", help=text, description=text[0].upper() + text[1:] + "."
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="schedule YAML file(s)")
    validate.set_defaults(_action=_validate)
    text = "validate, then upload the schedule and its scenario bundle for a fleet run"
    push = actions.add_parser("push", help=text, description=text[0].upper() + text[1:] + ".")
    push.add_argument("file", metavar="FILE", help="schedule YAML file")
    push.add_argument(
        "url",
        metavar="URL",
        help="s3://bucket/key.yaml, or s3://bucket for schedules/<name>.yaml",
    )
    push.set_defaults(_action=_push)


def run(args: argparse.Namespace) -> int:
    return args._action(args)


def _validate(args: argparse.Namespace) -> int:
    from surge.cli.scenario_check import check_scenario

    for path in args.files:
        schedule = load_schedule(path)
        info = check_scenario(schedule, Path(path), None)  # exit 2 for a scenario mistake
        print(summarise(schedule))
        print("\n".join(f"  scenario  {note}" for note in info.notes))
    return ExitCode.PASSED


def _push(args: argparse.Namespace) -> int:
    from surge.bundle import push_schedule
    from surge.cli.scenario_check import check_scenario
    from surge.s3 import S3Store, parse_s3_url, schedule_url

    schedule = load_schedule(args.file)
    url = parse_s3_url(args.url)
    if not url.key:
        url = schedule_url(url.bucket, schedule.name)
    elif args.url.endswith("/"):
        url = url.join(f"{schedule.name}.yaml")
    # a scenario mistake is exit 2 here, before anything is uploaded: never on the fleet
    info = check_scenario(schedule, Path(args.file), None)
    bundle = push_schedule(S3Store(), Path(args.file), schedule, url)  # #14: with its scenario
    print(f"{schedule.source}: ok, pushed to {url}")
    if bundle is not None:
        print(f"  scenario bundle {bundle.sha256[:12]}: {', '.join(bundle.files)}")
    print("\n".join(f"  scenario  {note}" for note in info.notes))
    return ExitCode.PASSED


def summarise(schedule: Schedule) -> str:
    """The short summary `validate` prints: stages, duration, peak, expected requests, times."""
    scope = "per worker" if schedule.per_worker else "fleet-wide"
    lines = [
        f"{schedule.source}: ok",
        f"  name      {schedule.name}",
        f"  target    {schedule.target}  (allowed hosts: {', '.join(schedule.allow_hosts)})",
        f"  arrivals  {schedule.arrivals.value}, rates {scope}",
        f"  stages    {len(schedule.stages)}",
    ]
    if schedule.search is not None:  # #20: the master picks the steps as it goes
        return "\n".join(lines[:-1] + _search_lines(schedule))
    for stage in schedule.stages:
        lines.append(
            f"    {stage.index + 1:>3}  {format_duration(stage.start_s):>8}  {stage.describe()}"
            + (f"  ({stage.name})" if stage.name else "")  # numbered from 1 for people
        )
    lines += [
        f"  duration  {format_duration(schedule.duration_s)}",
        f"  peak      {schedule.peak_rate:g} req/s",
        f"  requests  {schedule.expected_requests():,.0f} expected"
        + (" per worker" if schedule.per_worker else ""),
        f"  start     {_when(schedule.start_at, 'when ready')}",
        f"  end by    {_when(schedule.end_by, 'start + duration + 5m')}",
    ]
    if schedule.thresholds:
        rules = ", ".join(
            t.rule + (" (abort)" if t.abort_on_fail else "") for t in schedule.thresholds
        )
        lines.append(f"  thresholds {rules}")
    return "\n".join(lines)


def _search_lines(schedule: Schedule) -> list[str]:
    search = schedule.search
    assert search is not None
    lines = [
        f"  search    {search.describe()}",
        f"            steps held {format_duration(search.hold_s)} (judged after "
        f"{format_duration(search.settle_s)}), recoveries of {format_duration(search.recovery)} "
        f"at {search.recovery_rate:g} req/s",
        f"  duration  at most {format_duration(schedule.duration_s)}",
        f"  end by    {_when(schedule.end_by, 'start + duration + 5m')}",
        f"  service level {', '.join(t.rule for t in schedule.thresholds)}",
    ]
    if search.require is not None:
        lines.append(f"  require   knee >= {search.require:g} req/s (else exit 1)")
    return lines


def _when(value: dt.datetime | None, default: str) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else default
