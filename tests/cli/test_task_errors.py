"""A scenario whose tasks raise is not reported as healthy: `surge run` says so at the end."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from surge.cli.main import main
from surge.cli.session import run_and_report
from surge.cli.task_errors import task_error_lines
from surge.manifest import Manifest, ScenarioError
from tests.helpers.runs import fake_run_dir
from tests.helpers.shop import running_shop

SCENARIO = """
from locust import HttpUser, task


class Buggy(HttpUser):
    @task
    def t(self):
        self.client.get("/products")
        {}["no-such-key"]  # a scenario bug after the request
        self.client.get("/products/1")  # never sent
"""


def test_a_task_exception_is_counted_and_named_after_the_verdict(tmp_path: Path) -> None:
    """Real Locust processes: the worker counts the task's exceptions (Locust's user_error
    event), the master sums them into the manifest, the report shows them and `surge run`
    warns from the manifest (no log scan)."""
    (tmp_path / "buggy.py").write_text(SCENARIO)
    with running_shop() as shop:
        schedule = tmp_path / "s.yaml"
        schedule.write_text(
            f"name: buggy\ntarget: {shop.url}\nscenario: {{locustfile: buggy.py}}\n"
            "load: {stages: [{rps: 4, duration: 2s}]}\nthresholds: [p95 < 5s]\n"
        )
        stream = io.StringIO()
        outcome = run_and_report(str(schedule), workers=1, out_dir=tmp_path / "r", stream=stream)
    printed = stream.getvalue()
    assert outcome.report is not None  # the requests sent are still reported
    (counted,) = Manifest.load(outcome.run_dir).scenario_errors
    assert (counted.task, counted.error) == ("t", "KeyError")
    assert counted.example == "KeyError: 'no-such-key'"
    # at most one exception per task run, each after the task's first (recorded) request
    assert 0 < counted.count <= outcome.report.whole_run["requests"]
    warnings = [line for line in printed.splitlines() if line.startswith("warning  a task raised")]
    assert len(warnings) == 1, printed  # one per (task, type)
    assert f"a task raised KeyError {counted.count:,} times in task t" in warnings[0]
    assert "worker-0.log" not in warnings[0]  # from the manifest, not from the logs
    summary = json.loads((outcome.run_dir / "report" / "summary.json").read_text())
    assert summary["scenario_errors"] == [counted.to_dict()]
    markdown = (outcome.run_dir / "report" / "summary.md").read_text()
    assert f"**Scenario errors:** {counted.count:,} exceptions in 1 task (t)" in markdown
    assert "| `t` | KeyError |" in markdown
    assert "Scenario errors" in (outcome.run_dir / "report" / "index.html").read_text()


def test_an_old_run_falls_back_to_its_logs(tmp_path: Path) -> None:
    """No manifest, or one from before workers counted (format_minor < 3): the logs."""
    assert task_error_lines(tmp_path) == []
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "worker-0.log").write_text("[t] vm/INFO/locust.main: Starting\n")
    assert task_error_lines(tmp_path) == []
    marker = "vm/ERROR/surge.locustfiles.dispatcher: a task failed (logged once): "
    (tmp_path / "logs" / "worker-1.log").write_text(
        "".join(f"[t] {marker}ValueError: bad {i}\n" for i in range(5))
    )
    lines = task_error_lines(tmp_path)
    assert len(lines) == 4 and lines[-1].startswith("... and 2 other task exceptions")


def test_surge_report_repeats_the_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = fake_run_dir(tmp_path)
    old = Manifest.load(run_dir)
    old.format_minor = 2  # a run from before the workers counted task exceptions
    old.dump(run_dir)
    (run_dir / "logs" / "worker-0.log").write_text(
        "[t] vm/ERROR/surge.locustfiles.dispatcher: a task failed (logged once): "
        "HostNotAllowedError: GET http://127.0.0.2/: host not in allow_hosts (127.0.0.1)\n"
    )
    assert main(["report", str(run_dir)]) == 0
    printed = capsys.readouterr().out
    assert "warning: a task raised HostNotAllowedError: GET http://127.0.0.2/" in printed


def test_counts_in_the_manifest_win_over_the_logs(tmp_path: Path) -> None:
    run_dir = fake_run_dir(tmp_path)
    manifest = Manifest.load(run_dir)
    manifest.scenario_errors = [
        ScenarioError("checkout", "KeyError", 1204, "KeyError: 'id'"),
        ScenarioError("browse", "ValueError", 1, "ValueError: x"),
    ]
    manifest.dump(run_dir)
    (run_dir / "logs" / "worker-0.log").write_text(
        "[t] vm/ERROR/surge.locustfiles.dispatcher: a task failed (logged once): OSError: y\n"
    )
    lines = task_error_lines(run_dir)
    assert [line.split(":")[0] for line in lines] == [
        "a task raised KeyError 1,204 times in task checkout (KeyError",
        "a task raised ValueError 1 time in task browse (ValueError",
    ]
    manifest.scenario_errors = []
    manifest.dump(run_dir)
    assert task_error_lines(run_dir) == []  # counted and none: the log line is not repeated
