"""Check a schedule's scenario before any load: import it in a child, with a time limit.

A scenario mistake found by a worker after the run started used to end as "no results
were recorded" (exit 4) with the reason in a worker log. `surge schedule validate` and
`surge run` call `inspect_scenario` first; it imports the locustfile the way Locust's
worker will (a child process, so a file that hangs, exits or pollutes the interpreter
cannot harm the CLI; ``INSPECT_TIMEOUT_S`` bounds it) and prepares the User class the
way the worker will (`locustfiles.user_class`), then reports every problem at once as a
`ScheduleError` (exit 2) naming the file, the class and the problem:

- the import fails (the last line of the traceback, with the file's line);
- no User class, or several and no ``scenario.user``, or an unknown one;
- ``scenario.mix`` names a task the class does not have;
- ``scenario.tags`` / ``exclude_tags`` leave no task; a task set without tasks; a
  class that replaces Locust's loop with its own ``run()``;
- ``scenario.options`` names an option the file does not declare;
- creating a user fails.

It also returns the notes a run prints once: which client drives the class and why,
and that ``wait_time`` is ignored.

    python -m surge.locustfiles.inspect_scenario LOCUSTFILE < schedule.yaml   (the child)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surge.errors import ScheduleError
from surge.schedule import Schedule

INSPECT_TIMEOUT_S = 60.0  # importing a scenario: seconds on a busy machine, never a minute
MAX_DEPTH = 20  # nested task sets followed when checking them
RESULT_MARK = "SURGE-INSPECT:"  # the child's answer line (the file may print anything else)


@dataclass(frozen=True)
class ScenarioInfo:
    """What the inspection found out about a runnable scenario.

    Attributes:
        user_class: the User class the run drives.
        client: "surge", "locust" or "own" (`locustfiles.user_class.ClientChoice`).
        notes: lines a run prints once (client and why, ignored wait_time).
    """

    user_class: str
    client: str
    notes: list[str] = field(default_factory=list)


def inspect_scenario(
    schedule: Schedule,
    locustfile: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = INSPECT_TIMEOUT_S,
) -> ScenarioInfo:
    """Import and check `locustfile` for `schedule` in a child; `ScheduleError` if it cannot run."""
    where = str(locustfile)
    cmd = [sys.executable, "-m", "surge.locustfiles.inspect_scenario", str(locustfile)]
    try:
        done = subprocess.run(
            cmd, input=schedule.text or _fallback_yaml(schedule), capture_output=True,
            text=True, timeout=timeout_s, cwd=cwd or locustfile.parent,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ScheduleError(
            [f"importing the scenario took longer than {timeout_s:g}s (does it block at import?)"],
            where,
        ) from None
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            answer = json.loads(line[len(RESULT_MARK) :])
            break
    else:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise ScheduleError([f"importing the scenario failed: {last}"], where)
    if answer["problems"]:
        raise ScheduleError(answer["problems"], where)
    return ScenarioInfo(answer["user_class"], answer["client"], answer["notes"])


def _fallback_yaml(schedule: Schedule) -> str:
    import yaml

    return yaml.safe_dump(schedule.to_dict())


# ---------------------------------------------------------------------- the child


def check(locustfile: str, schedule_text: str) -> dict[str, Any]:
    """Everything wrong with running `locustfile` under the schedule (in the child)."""
    from surge.schedule import parse_schedule

    schedule = parse_schedule(schedule_text, source="schedule")
    answer: dict[str, Any] = {"problems": [], "notes": [], "user_class": None, "client": None}
    problems: list[str] = answer["problems"]
    base_options = _option_names()
    try:
        classes, shapes = _import(locustfile)
    except Exception as exc:
        problems.append(_import_failure(exc, locustfile))
        return answer
    from surge.locustfiles.user_class import pick_user_class, prepare_user_class, scenario_notes

    try:
        base = pick_user_class(schedule, classes)
    except ScheduleError as exc:
        problems += exc.details()
        return answer
    name = base.__name__
    problems += _task_problems(base, dict(schedule.scenario.mix))
    declared = _option_names() - base_options
    for option in schedule.scenario.options:
        if option not in declared:
            known = ", ".join(sorted(declared)) or "none"
            problems.append(
                f"scenario.options.{option}: {Path(locustfile).name} declares no such "
                f"command-line option (its options: {known})"
            )
    if problems:
        return answer
    try:
        user_class = prepare_user_class(schedule, classes)
    except ScheduleError as exc:
        problems += exc.details()
        return answer
    problems += _instantiate(user_class, schedule)
    answer.update(user_class=name, client=user_class.surge_client.client)
    answer["notes"] = scenario_notes(user_class) + [
        f"{shape}: the file's LoadTestShape is ignored; the schedule's stages set the load "
        "(open model)"
        for shape in shapes
    ]
    return answer


def _import(locustfile: str) -> tuple[dict[str, type], list[str]]:
    """The file's User classes by name, and the names of its LoadTestShape classes."""
    from locust.util.load_locustfile import load_locustfile

    from surge.locustfiles.client import SurgeHttpUser

    sys.path.insert(0, str(Path(locustfile).resolve().parent))
    classes, shapes = load_locustfile(locustfile)
    # SurgeHttpUser is abstract and imported by scenarios: never a candidate
    users = {n: c for n, c in classes.items() if c is not SurgeHttpUser}
    return users, [type(shape).__name__ for shape in shapes]


def _import_failure(exc: BaseException, locustfile: str) -> str:
    """The traceback's last line, with the deepest line of the scenario's own files."""
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    folder = str(Path(locustfile).resolve().parent)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(folder)]
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    if isinstance(exc, SyntaxError) and exc.lineno:
        where = f" ({Path(exc.filename or locustfile).name}:{exc.lineno})"
    return f"importing the scenario failed: {last}{where}"


def _task_problems(base: type, mix: dict[str, float]) -> list[str]:
    from surge.locustfiles.dispatcher import TaskPicker
    from surge.locustfiles.tasks import is_task_set

    problems: list[str] = []
    for klass in base.__mro__:
        if klass.__module__.startswith(("locust.", "surge.")):
            break
        if "run" in vars(klass):  # its own loop: nothing an arrival could run one step of
            problems.append(
                f"{base.__name__}: {klass.__name__}.run() replaces Locust's task loop; surge "
                "runs one task per arrival, so put the work in @task methods"
            )
    tasks = list(getattr(base, "tasks", None) or [])
    try:  # the worker's own check of the tasks and the mix
        TaskPicker(base, mix)
    except ScheduleError as exc:
        problems += exc.details()
    for t in tasks:
        if not (callable(t) or is_task_set(t)):
            problems.append(f"{base.__name__}.tasks: {t!r} is neither a function nor a TaskSet")

    def visit(task_set: type, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if not task_set.tasks and task_set.__class__.__name__ != "MarkovTaskSetMeta":
            problems.append(f"{base.__name__}: TaskSet {task_set.__name__} has no tasks")
        for inner in task_set.tasks:
            if is_task_set(inner) and inner is not task_set:
                visit(inner, depth + 1)

    for t in {t for t in tasks if is_task_set(t)}:
        visit(t, 1)
    return problems


def _option_names() -> set[str]:
    """Destinations of every command-line option Locust and the loaded files declare."""
    from locust.argument_parser import get_parser

    return {action.dest for action in get_parser()._actions}


def _instantiate(user_class: type, schedule: Schedule) -> list[str]:
    """Create one user as a slot will (no request is sent)."""
    from locust.env import Environment

    try:
        user_class(Environment(user_classes=[user_class], host=schedule.target))
    except Exception as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return [f"{user_class.__name__}: creating a user failed: {last}"]
    return []


def main(argv: list[str]) -> int:
    answer = check(argv[0], sys.stdin.read())
    print(RESULT_MARK + json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
