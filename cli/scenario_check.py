"""Refuse a scenario that cannot run before any load or upload.

`surge schedule validate`, `surge run` (a local file, or a pushed schedule's bundle
once unpacked) and `surge schedule push` (before anything reaches S3, so a broken
locustfile never gets to a fleet) all check the scenario here.

The scenario is found the way the run's Locust processes find it (beside the schedule,
else surge's own) and imported in a child process with the scenario's environment
(`locustfiles.inspect_scenario`); a mistake is a `ScheduleError` (exit 2) naming the
file, the class and the problem. Secrets are not needed for the check: they are left
out of the child's environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from surge.locustfiles.inspect_scenario import ScenarioInfo, inspect_scenario
from surge.provisioning.scenario import ScenarioSetup, find_locustfile
from surge.schedule import Schedule


def check_scenario(schedule: Schedule, schedule_path: Path, stream: TextIO | None) -> ScenarioInfo:
    """Inspect the scenario of `schedule` (read from `schedule_path`); print its notes."""
    folder = Path(schedule_path).resolve().parent
    locustfile = find_locustfile(folder, schedule.scenario.locustfile, str(schedule_path))
    setup = ScenarioSetup(locustfile=locustfile, cwd=folder, env=dict(schedule.scenario.env))
    return check_setup(schedule, setup, stream)


def check_setup(schedule: Schedule, setup: ScenarioSetup, stream: TextIO | None) -> ScenarioInfo:
    """Inspect a scenario placed for a run (beside its schedule, or a pushed bundle
    unpacked into the run directory for `surge run s3://...`); print its notes."""
    info = inspect_scenario(schedule, setup.locustfile, cwd=setup.cwd, env=dict(setup.env))
    if stream is not None:
        for note in info.notes:
            print(f"  scenario  {note}", file=stream)
    return info
