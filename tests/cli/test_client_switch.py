"""A class that switches to Locust's own client at call time says so where people look
(#21): in `surge run`'s end summary, `surge report`, the report and the manifest's
``scenario_client`` (``switched``), not only in a worker log."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from surge.cli.main import main
from surge.cli.session import run_and_report
from surge.locustfiles.client_switch import SwitchCounter, SwitchTotals
from surge.manifest import Manifest
from tests.helpers.runs import fake_run_dir
from tests.helpers.shop import running_shop

# the stream=True call is in a helper outside the class: the static look at the class
# (`user_class.choose_client`) cannot see it, so the class starts on surge's client and
# each user switches at its first such call
SCENARIO = """
from locust import HttpUser, task


def browse(client):
    with client.get("/products", stream=True) as answer:
        return answer.status_code


class Streamer(HttpUser):
    @task
    def t(self):
        browse(self.client)
"""


def test_a_call_time_switch_reaches_the_manifest_and_the_run_summary(tmp_path: Path) -> None:
    """Real Locust processes: the worker counts the switched users, the master sums them
    into the manifest, and `surge run` prints them after the verdict."""
    (tmp_path / "streamer.py").write_text(SCENARIO)
    with running_shop() as shop:
        schedule = tmp_path / "s.yaml"
        schedule.write_text(
            f"name: streamer\ntarget: {shop.url}\nscenario: {{locustfile: streamer.py}}\n"
            "load: {stages: [{rps: 4, duration: 2s}]}\n"
        )
        stream = io.StringIO()
        outcome = run_and_report(str(schedule), workers=1, out_dir=tmp_path / "r", stream=stream)
    printed = stream.getvalue()
    assert "Streamer: surge client" in printed  # what the check before the run announced
    client = Manifest.load(outcome.run_dir).scenario_client
    assert client is not None and client["client"] == "surge"
    (moved,) = client["switched"]
    assert (moved["user_class"], moved["why"]) == ("Streamer", "stream=True")
    assert moved["users"] >= 1
    notes = [line for line in printed.splitlines() if "switched to Locust's own client" in line]
    assert len(notes) == 1 and notes[0].startswith("note     Streamer switched"), printed
    assert "stream=True" in notes[0]
    summary = json.loads((outcome.run_dir / "report" / "summary.json").read_text())
    assert summary["schedule"]["client_switched"] == [moved]
    markdown = (outcome.run_dir / "report" / "summary.md").read_text()
    assert "Streamer users switched to Locust's client: stream=True" in markdown


def test_workers_count_switches_and_the_master_sums_them() -> None:
    worker = SwitchCounter()
    assert worker.take() == []
    for _ in range(3):
        worker.record("Uploader", "multipart files=")
    worker.record("Streamer", "stream=True")
    first = worker.take()
    assert worker.take() == []  # since the last report only
    master = SwitchTotals()
    assert master.annotate({"client": "surge"}) == {"client": "surge"}  # none: unchanged
    master.add(first)
    master.add([{"user_class": "Uploader", "why": "multipart files=", "users": 2}])
    assert master.annotate({"client": "surge"})["switched"] == [
        {"user_class": "Uploader", "why": "multipart files=", "users": 5},
        {"user_class": "Streamer", "why": "stream=True", "users": 1},
    ]


def test_surge_report_repeats_the_switch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = fake_run_dir(tmp_path)
    manifest = Manifest.load(run_dir)
    manifest.scenario_client = {
        "user_class": "Uploader", "client": "surge", "reason": "r", "notes": [],
        "switched": [{"user_class": "Uploader", "why": "multipart files=", "users": 12}],
    }  # fmt: skip
    manifest.dump(run_dir)
    assert main(["report", str(run_dir)]) == 0
    printed = capsys.readouterr().out
    assert "note: Uploader switched to Locust's own client (12 users): it uses multipart" in (
        printed
    ), printed
