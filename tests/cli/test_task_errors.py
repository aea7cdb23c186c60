"""A scenario whose tasks raise is not reported as healthy: `surge run` says so at the end."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from surge.cli.main import main
from surge.cli.session import run_and_report
from surge.cli.task_errors import task_error_lines
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


def test_a_task_exception_is_named_after_the_verdict(tmp_path: Path) -> None:
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
    warnings = [line for line in printed.splitlines() if line.startswith("warning  a task raised")]
    assert len(warnings) == 1, printed  # logged once per distinct exception
    assert "KeyError: 'no-such-key'" in warnings[0] and "worker-0.log" in warnings[0]


def test_no_logs_or_no_task_errors_print_nothing(tmp_path: Path) -> None:
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
    (run_dir / "logs" / "worker-0.log").write_text(
        "[t] vm/ERROR/surge.locustfiles.dispatcher: a task failed (logged once): "
        "HostNotAllowedError: GET http://127.0.0.2/: host not in allow_hosts (127.0.0.1)\n"
    )
    assert main(["report", str(run_dir)]) == 0
    printed = capsys.readouterr().out
    assert "warning: a task raised HostNotAllowedError: GET http://127.0.0.2/" in printed
