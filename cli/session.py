"""One local run from schedule to verdict: what `surge run` and `surge demo` share.

Resolve the schedule (a file or an ``s3://`` URL), run it on this machine with
live progress (`provisioning.local.run_local`), build the report
(`analysis.build_report`), and say in three lines what came out. Ctrl-C stops the
load but keeps and reports what was recorded (exit code 130).
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from surge.errors import ExitCode, InfrastructureError, RunDirError, SurgeError
from surge.results import DEFAULT_RESULTS_DIR, MANIFEST, make_run_id
from surge.schedule import Schedule, load_schedule, parse_schedule

SCHEDULE_COPY = "schedule.yaml"


def default_workers() -> int:
    """Worker processes for this machine: one per core, leaving one for the master and target."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class RunOutcome:
    """What a local run produced. `report` is None when nothing could be reported."""

    run_dir: Path
    exit_code: int
    report: Any = None
    interrupted: bool = False


def read_schedule(source: str, target: str | None = None) -> tuple[Schedule, bytes | None]:
    """The schedule from a path or ``s3://`` URL (with `target` applied), and the S3 bytes."""
    from surge.s3 import S3Store, is_s3_url, parse_s3_url

    data = None
    if is_s3_url(source):
        data = S3Store().get_bytes(parse_s3_url(source))
        schedule = parse_schedule(data, source=source)
    else:
        schedule = load_schedule(source)
    return (schedule.with_target(target) if target else schedule), data


def run_and_report(
    source: str,
    *,
    workers: int | None = None,
    target: str | None = None,
    ui: bool = False,
    out_dir: str | Path = DEFAULT_RESULTS_DIR,
    junit: str | Path | None = None,
    baseline: str | Path | None = None,
    stream: TextIO | None = None,
    ui_options: Any = None,
) -> RunOutcome:
    """Run `source` locally, build its report, print the summary; return the outcome.

    `ui_options` (`ui_session.UIOptions`) chooses the web UI's address, metrics and
    whether the UI outlives the run; `ui=True` alone means the defaults."""
    from surge.cli.progress import Progress
    from surge.cli.ui_session import UIHold, UIOptions
    from surge.provisioning.local import run_local

    ui_options = ui_options or UIOptions(ui=ui)
    ui = ui_options.ui

    stream = stream or sys.stderr
    schedule, s3_bytes = read_schedule(source, target)
    from surge.target_check import check_target  # nothing listening: exit 4 before any load

    # the target is judged after every scenario check: a scenario mistake is exit 2, never 4
    if s3_bytes is None:  # a scenario mistake is exit 2 before any process starts (#21)
        from surge.cli.scenario_check import check_scenario

        check_scenario(schedule, Path(source), stream)
        check_target(schedule)  # before the run directory exists
    run_id = make_run_id(schedule.name)
    run_dir = Path(out_dir) / run_id
    schedule_path = _make_run_dir(run_dir, source, s3_bytes)
    scenario = _pushed_scenario(schedule, source, run_dir) if s3_bytes is not None else None
    if scenario is not None:  # the pushed bundle's scenario: exit 2 before any load (#21)
        from surge.cli.scenario_check import check_setup

        check_setup(schedule, scenario, stream)
    if s3_bytes is not None:  # once the bundle is unpacked and checked (issue 21)
        check_target(schedule)
    progress = Progress(stream)
    interrupted, engine_code = False, None
    _announce(run_id, schedule, ui_options, stream)
    hold = None
    if ui:  # the UI outlives the run: report (and wait for the user) while it still serves
        report = lambda: report_run(run_dir, junit=junit, baseline=baseline, stream=stream)  # noqa: E731
        hold = UIHold(options=ui_options, report=report, before=progress.close, stream=stream)
    try:
        result = run_local(
            schedule_path, run_dir, workers=default_workers() if workers is None else workers,
            target=target, ui=ui, run_id=run_id, on_status=progress, ui_hold=hold,
            scenario=scenario,
            **ui_options.local_kwargs(),
        )  # fmt: skip
        engine_code = result.exit_code
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    if hold is not None and hold.outcome is not None and not interrupted:
        return hold.outcome  # reported while the UI served; the verdict's exit code
    return _report_after(run_dir, interrupted, engine_code, junit, baseline, stream)


def _report_after(
    run_dir: Path,
    interrupted: bool,
    engine_code: int | None,
    junit: str | Path | None,
    baseline: str | Path | None,
    stream: TextIO,
) -> RunOutcome:
    """The report once the load is over: of what was recorded when interrupted (exit
    130), an infrastructure error when Locust failed and left nothing to report."""
    if interrupted:
        print("interrupted: load stopped; reporting what was recorded", file=stream)
    outcome = report_run(run_dir, junit=junit, baseline=baseline, stream=stream)
    if interrupted:
        outcome.exit_code = ExitCode.INTERRUPTED
        outcome.interrupted = True
    elif outcome.report is None and engine_code:
        raise InfrastructureError(
            f"the run failed (Locust exit code {engine_code}); see its logs",
            str(run_dir / "logs"),
        )
    return outcome


def _make_run_dir(run_dir: Path, source: str, s3_bytes: bytes | None) -> Path:
    """Create the run directory; returns the schedule file Locust will read."""
    with disk_errors(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
        if s3_bytes is None:
            return Path(source)
        copy = run_dir / SCHEDULE_COPY  # Locust reads a file; keep the copy with the results
        copy.write_bytes(s3_bytes)
        return copy


def _announce(run_id: str, schedule: Schedule, ui_options: Any, stream: TextIO) -> None:
    """The run's first lines: what it offers, and where its UI and metrics are."""
    shape = f"{len(schedule.stages)} stages, {schedule.duration_s:g}s"
    if schedule.search is not None:  # #20: the stages are decided as the run goes
        shape = "capacity search " + schedule.search.describe()
    print(f"run {run_id}: {shape}", file=stream)
    if ui_options.ui:
        print(f"web UI on {ui_options.url}/surge/ (press Start there)", file=stream)
    if ui_options.metrics_port:
        print(f"metrics on http://127.0.0.1:{ui_options.metrics_port}/metrics", file=stream)


def _pushed_scenario(schedule: Schedule, source: str, run_dir: Path) -> Any:
    """A pushed schedule's scenario bundle, unpacked into the run directory (#14)."""
    from surge.provisioning.scenario import pushed_scenario
    from surge.s3 import S3Store, parse_s3_url

    bucket = parse_s3_url(source).bucket
    return pushed_scenario(S3Store(), schedule, bucket=bucket, run_dir=run_dir.resolve())


def report_run(
    run_dir: Path,
    *,
    junit: str | Path | None = None,
    baseline: str | Path | None = None,
    stream: TextIO,
) -> RunOutcome:
    """Build the report of `run_dir` and print knee, verdict and path."""
    from surge.analysis import build_report

    if not (run_dir / MANIFEST).exists():
        print(f"no results were recorded (logs in {run_dir / 'logs'})", file=stream)
        return RunOutcome(run_dir, ExitCode.INFRASTRUCTURE)
    try:
        with disk_errors(run_dir):
            report = build_report(run_dir, baseline=baseline)
    except RunDirError as exc:
        print(f"no report: {exc}", file=stream)
        return RunOutcome(run_dir, ExitCode.INFRASTRUCTURE)
    if junit:
        with disk_errors(Path(junit)):
            _copy_junit(report, Path(junit))
    print_summary(report, stream)
    from surge.cli.task_errors import client_switch_lines, task_error_lines

    for line in task_error_lines(run_dir):  # scenario exceptions: not in the records
        print(f"warning  {line}", file=stream)
    for line in client_switch_lines(run_dir):  # #21: call-time switch to Locust's client
        print(f"note     {line}", file=stream)
    return RunOutcome(run_dir, int(report.exit_code), report)


def print_summary(report: Any, stream: TextIO) -> None:
    index = report.files.get("index.html") or report.out_dir
    print(f"knee     {report.knee.headline()}", file=stream)
    if getattr(report, "search", None):  # #20: the knee's bracket, and against a staircase
        versus = report.search.get("baseline")
        print(f"search   {report.search['bracket_text']}"
              + (f"; {versus['text']}" if versus else ""), file=stream)  # fmt: skip
    print(f"verdict  {report.verdict.headline()}", file=stream)
    if getattr(report, "broke_first", None):  # where and why, in the run's words
        print(f"broke    {report.broke_first}", file=stream)
    for note in report.verdict.notes:  # e.g. a threshold naming an endpoint never called
        print(f"note     {note}", file=stream)
    if report.comparison is not None:
        cmp = report.comparison
        print(
            f"compared knee {_rps(cmp.knee_rps)} vs {_rps(cmp.baseline_knee_rps)} "
            f"in {cmp.baseline_run_id}: {knee_change_of(report)}",
            file=stream,
        )
    print(f"report   {index}", file=stream)


def knee_change_of(report: Any) -> str:
    """How far the knee moved against the baseline (`analysis.render.knee_change`)."""
    from surge.analysis.render import knee_change

    cmp = report.comparison
    return knee_change(
        {
            "comparison": {"knee_rps": cmp.knee_rps, "baseline_knee_rps": cmp.baseline_knee_rps},
            "knee": {"above_test": report.knee.above_test},
        }
    )


def _rps(value: float | None) -> str:
    return "not reached" if value is None else f"{value:,.0f} req/s"


def _copy_junit(report: Any, dest: Path) -> None:
    source = report.files.get("junit.xml") or report.out_dir / "junit.xml"
    if not Path(source).exists():
        raise InfrastructureError("the report has no junit.xml", str(source))
    dest.parent.mkdir(parents=True, exist_ok=True)
    if Path(source).resolve() != dest.resolve():
        shutil.copyfile(source, dest)


class disk_errors:
    """Turn a full or read-only disk into one clear error instead of a traceback."""

    def __init__(self, where: Path) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, OSError) and not isinstance(exc, SurgeError):
            if exc.errno == errno.ENOSPC:
                raise InfrastructureError(
                    "disk full: files written so far are intact; free space and run again",
                    str(self.where),
                ) from None
            if exc.errno in {errno.EACCES, errno.EROFS, errno.EPERM}:
                raise InfrastructureError(
                    f"cannot write: {exc.strerror}", str(self.where)
                ) from None
        return False
