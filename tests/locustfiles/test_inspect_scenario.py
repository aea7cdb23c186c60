"""Scenario mistakes are refused before any load: exit 2 from `surge schedule validate`.

Each case writes a schedule and a locustfile with one mistake into a temporary folder
and runs the real CLI entry point (the scenario is imported in a child process, as
`surge run` does); the message must name the file, the class and the problem.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from surge.cli.main import main
from surge.errors import ScheduleError
from surge.locustfiles.inspect_scenario import inspect_scenario
from surge.schedule import load_schedule
from tests.helpers.locust import REPO

GOOD_USER = """
from locust import HttpUser, task

class Shopper(HttpUser):
    @task
    def browse(self):
        self.client.get("/")
"""

MISTAKES = {
    "import_error": (
        "import no_such_module\n" + GOOD_USER, "",
        ["ModuleNotFoundError: No module named 'no_such_module'", "scenario.py:1"],
    ),
    "syntax_error": ("def broken(:\n    pass\n", "", ["SyntaxError", "scenario.py:1"]),
    "raises_at_import": (
        GOOD_USER + "\nraise RuntimeError('config missing')\n", "",
        ["RuntimeError: config missing", "scenario.py:9"],
    ),
    "no_user_class": ("X = 1\n", "", ["defines no User class"]),
    "several_classes": (
        GOOD_USER + "\nclass Admin(Shopper):\n    pass\n", "",
        ["several User classes (Admin, Shopper); name one"],
    ),
    "unknown_user": (GOOD_USER, "  user: Buyer\n", ["no User class 'Buyer'", "Shopper"]),
    "unknown_mix_task": (
        GOOD_USER, "  mix: {browse: 1, buy: 2}\n", ["scenario.mix: buy is not a task of Shopper"],
    ),
    "no_tasks": (
        "from locust import HttpUser\n\nclass Idle(HttpUser):\n    pass\n", "",
        ["Idle: no tasks"],
    ),
    "empty_task_set": (
        "from locust import HttpUser, TaskSet\n\nclass Nothing(TaskSet):\n    pass\n\n"
        "class Shopper(HttpUser):\n    tasks = [Nothing]\n", "",
        ["Shopper: TaskSet Nothing has no tasks"],
    ),
    "tags_leave_nothing": (
        GOOD_USER, "  tags: [checkout]\n", ["no task of Shopper is left after the tag filter"],
    ),
    "unknown_option": (
        GOOD_USER, "  options: {product-id: 3}\n",
        ["scenario.options.product_id", "declares no such command-line option"],
    ),
    "own_run_loop": (
        GOOD_USER.replace("    @task", "    def run(self):\n        pass\n\n    @task"), "",
        ["Shopper: Shopper.run() replaces Locust's task loop"],
    ),
    "user_init_fails": (
        GOOD_USER.replace("    @task", "    def __init__(self, env):\n"
                          "        raise ValueError('needs a token')\n\n    @task"), "",
        ["Shopper: creating a user failed: ValueError: needs a token"],
    ),
}  # fmt: skip


def write_case(folder: Path, source: str, scenario: str) -> Path:
    (folder / "scenario.py").write_text(textwrap.dedent(source))
    schedule = folder / "schedule.yaml"
    schedule.write_text(
        "name: mistake\ntarget: http://127.0.0.1:9\n"
        f"scenario:\n  locustfile: scenario.py\n{scenario}"
        "load:\n  stages:\n    - {rps: 1, duration: 1s}\n"
    )
    return schedule


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_a_scenario_mistake_is_exit_2_naming_file_class_and_problem(tmp_path, capsys, case):
    source, scenario, expected = MISTAKES[case]
    schedule = write_case(tmp_path, source, scenario)
    assert main(["schedule", "validate", str(schedule)]) == 2
    err = capsys.readouterr().err
    assert "scenario.py" in err and "Traceback" not in err, err
    for part in expected:
        assert part in err, (part, err)


def test_a_good_scenario_validates_and_says_which_client_runs_it(tmp_path, capsys):
    schedule = write_case(tmp_path, GOOD_USER, "")
    assert main(["schedule", "validate", str(schedule)]) == 0
    out = capsys.readouterr().out
    assert "scenario  Shopper: surge client" in out


def test_a_load_test_shape_in_the_file_is_said_to_be_ignored(tmp_path, capsys):
    shape = "\nfrom locust import LoadTestShape\n\nclass Waves(LoadTestShape):\n" + (
        "    def tick(self):\n        return (10, 10)\n"
    )
    schedule = write_case(tmp_path, GOOD_USER + shape, "")
    assert main(["schedule", "validate", str(schedule)]) == 0  # a note, not a mistake
    out = capsys.readouterr().out
    assert "scenario  Waves: the file's LoadTestShape is ignored" in out


def test_a_missing_locustfile_is_exit_2(tmp_path, capsys):
    schedule = write_case(tmp_path, GOOD_USER, "")
    (tmp_path / "scenario.py").unlink()
    assert main(["schedule", "validate", str(schedule)]) == 2
    assert "scenario locustfile not found" in capsys.readouterr().err


def test_an_import_that_hangs_is_stopped_by_the_time_limit(tmp_path):
    schedule = write_case(tmp_path, "import time\ntime.sleep(60)\n" + GOOD_USER, "")
    with pytest.raises(ScheduleError, match="took longer than 2s"):
        inspect_scenario(load_schedule(schedule), tmp_path / "scenario.py", timeout_s=2.0)


@pytest.mark.integration
def test_surge_run_refuses_a_scenario_mistake_before_starting_anything(tmp_path):
    source, scenario, _ = MISTAKES["unknown_mix_task"]
    schedule = write_case(tmp_path, source, scenario)
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "surge", "run", str(schedule), "--workers", "1", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "scenario.mix: buy is not a task of Shopper" in done.stderr
    assert not out.exists() or not any(out.iterdir())  # no run directory: nothing started
