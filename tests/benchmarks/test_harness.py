"""The benchmark harness: it runs, writes a well-formed record, and never asserts speed."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import record
from benchmarks.bench_capacity import GOAL_RPS, HEADROOM, VCPUS, fleet_for
from benchmarks.bench_truth import analytic_quantile
from benchmarks.harness import BenchResult, Context, NotRun, Settings, Status, Table, median

REPO = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_S = 240  # generous: the machine may be busy; the smoke run itself is ~30 s


def test_analytic_truth_of_a_1s_in_5s_stall():
    assert [round(analytic_quantile(q) * 1000) for q in (0.90, 0.95, 0.99)] == [500, 750, 950]
    assert analytic_quantile(0.5) == 0.0  # most requests are not held at all


def test_fleet_on_paper_has_the_headroom_and_rounds_up():
    fleet = fleet_for(1000.0, "c6i.xlarge")
    assert fleet["planned_rps_per_instance"] == 1000.0 * VCPUS["c6i.xlarge"] * (1 - HEADROOM)
    assert fleet["instances"] == 5  # 10,000 / 2,000
    assert fleet_for(999.0, "c6i.xlarge")["instances"] == 6
    assert fleet["usd_per_hour"] == pytest.approx(fleet["instances"] * fleet["price"])
    assert GOAL_RPS == 10_000


def test_median_skips_failed_repeats():
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([None]) is None


def test_prerequisites_run_first():
    assert bench_main.selected(["capacity"]) == ["generator", "capacity"]
    assert bench_main.selected(["truth,analysis"]) == ["truth", "analysis"]
    with pytest.raises(SystemExit):
        bench_main.selected(["nope"])


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, run) -> None:
    module = types.ModuleType(f"benchmarks.fake_{name}")
    module.TITLE = f"fake {name}"
    module.run = run
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(bench_main.BENCHMARKS, name, module.__name__)


def test_a_missing_piece_is_not_run_and_a_crash_is_failed(monkeypatch, tmp_path):
    def missing(ctx):
        raise NotRun("the engine is not built yet")

    def crash(ctx):
        raise ZeroDivisionError("boom")

    _fake_module(monkeypatch, "missing", missing)
    _fake_module(monkeypatch, "crash", crash)
    ctx = Context(settings=Settings(quick=True, repeats=1, out_dir=tmp_path))
    skipped = bench_main.run_one("missing", ctx)
    assert (skipped.status, skipped.reason) == (Status.NOT_RUN, "the engine is not built yet")
    failed = bench_main.run_one("crash", ctx)
    assert failed.status is Status.FAILED and "boom" in failed.reason
    assert "ZeroDivisionError" in (tmp_path / "crash" / "traceback.txt").read_text()


def test_record_renders_every_section(tmp_path):
    done = BenchResult(
        name="a",
        title="A bench",
        summary=["fast enough"],
        commands=["wrk -t1 x"],
        tables=[Table("Medians", ["tool", "req/s"], [["wrk", "1|2"]])],
    )
    skipped = BenchResult(name="b", title="B bench", status=Status.NOT_RUN, reason="no nginx")
    record.write(
        tmp_path / "R.md",
        tmp_path / "r.json",
        machine={"cpu": "X"},
        started="now",
        invocation="python -m benchmarks",
        quick=False,
        repeats=3,
        results=[done, skipped],
    )
    text = (tmp_path / "R.md").read_text()
    for expected in (
        "## Machine and run",
        "| cpu | X |",
        "## A bench",
        "| wrk | 1\\|2 |",
        "**not run: no nginx**",
        "```sh\nwrk -t1 x\n```",
    ):
        assert expected in text
    assert [r["status"] for r in json.loads((tmp_path / "r.json").read_text())["results"]] == [
        "done",
        "not run",
    ]


@pytest.mark.integration
def test_quick_run_writes_a_well_formed_record(tmp_path):
    """`--quick --only generator`: nginx, wrk, plain Locust and surge, tiny settings."""
    results = tmp_path / "RESULTS.md"
    record_file = REPO / "benchmarks" / "RESULTS.md"
    before = record_file.stat().st_mtime_ns if record_file.exists() else None
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "generator",
            "--out",
            str(tmp_path / "out"),
            "--results",
            str(results),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (record_file.stat().st_mtime_ns if record_file.exists() else None) == before
    text = results.read_text()
    assert "## Machine and run" in text and "| locust |" in text and "Smoke run" in text
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    (generator,) = document["results"]
    assert generator["status"] in ("done", "not run"), generator["reason"]
    if generator["status"] == "done":
        medians = generator["data"]["medians"]
        assert set(medians) == {
            "wrk",
            "Locust FastHttpUser",
            "Locust HttpUser",
            "Locust SurgeHttpUser",
            "surge (open model, recording)",
            "surge driving FastHttpUser (open model, recording)",
            "surge driving HttpUser (open model, recording)",
        }
        assert medians["wrk"]["rps"] > 0 and medians["Locust FastHttpUser"]["cpu_us"] > 0
        assert generator["data"]["surge"][0]["steps"], "surge's staircase was not measured"
        assert generator["data"]["surge_driving_fasthttpuser"][0]["steps"]
        assert any(line.startswith("taskset -c 1 wrk") for line in generator["commands"])
