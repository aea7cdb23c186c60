"""What `surge report` writes (summary.json, junit.xml, CSVs, summary.md), comparison and cost."""

from __future__ import annotations

import csv
import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from surge.analysis import build_report
from surge.analysis.cost import CostInputs, fleet_cost, serverless_vs_servers
from surge.cli import main
from surge.errors import ExitCode
from surge.results import MasterEntry, WorkerEntry
from tests.helpers.runs import hold, make_run, with_fields, written_manifest

STAIRS = [{"steps": {"from": 10, "to": 30, "by": 10}, "duration": "10s"}]


def stairs_run(root: Path, latency_s: float, *, run_id: str, fail_top: bool = False) -> Path:
    rows = []
    for k, rate in enumerate((10, 20, 30)):
        part = hold(
            rate=rate, start_s=10 * k, duration_s=10, latency_s=latency_s, workers=("w1", "w2")
        )
        if fail_top and rate == 30:
            part = [
                with_fields([r], outcome="error", status=429)[0] if i % 2 else r
                for i, r in enumerate(part)
            ]
        rows += part
    return make_run(
        root,
        run_id=run_id,
        stages=STAIRS,
        requests=rows,
        thresholds=["p95 < 1s", "success_rate >= 99%"],
    )


@pytest.fixture(scope="module")
def failed_report(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("outputs")
    run_dir = stairs_run(root, 0.1, run_id="stairs-20261127T100000Z", fail_top=True)
    return build_report(run_dir, warmup_s=2, charts=False)


def test_report_files_are_written(failed_report) -> None:
    out = failed_report.out_dir
    assert out == failed_report.run.run_dir / "report"
    for name in (
        "index.html",
        "summary.md",
        "summary.json",
        "junit.xml",
        "stages.csv",
        "timeline.csv",
        "timeline_by_name.csv",
    ):
        assert (out / name).stat().st_size > 0, name


def test_summary_json_is_versioned_and_carries_the_verdict(failed_report) -> None:
    s = json.loads((failed_report.out_dir / "summary.json").read_text())
    assert s["summary_version"] == 1
    assert s["verdict"]["status"] == "failed" and s["verdict"]["exit_code"] == 1
    assert s["knee"]["rate_rps"] == 20 and s["knee"]["broke_first"]["cause"] == "throttling"
    assert s["whole_run"]["requests"] == 600
    assert [st["offered_rps"] for st in s["stages"]] == [10, 20, 30]
    assert s["cost"]["serving"]["inputs"]["rps"] == 20


def test_junit_has_one_case_per_threshold_with_measured_value(failed_report) -> None:
    root = ET.parse(failed_report.out_dir / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"p95 < 1s", "success_rate >= 99%", "generators kept up"}
    assert cases["p95 < 1s"].find("failure") is None
    failure = cases["success_rate >= 99%"].find("failure")
    assert failure is not None and "measured 75.00%" in failure.get("message")
    assert root.find("testsuite").get("failures") == "1"


def test_csvs_have_a_row_per_stage_and_per_second(failed_report) -> None:
    with open(failed_report.out_dir / "stages.csv") as fh:
        stages = list(csv.DictReader(fh))
    assert [r["offered_rps"] for r in stages] == ["10.0", "20.0", "30.0"]
    assert stages[2]["errors_throttled"] == "120"  # half of 240 requests in the 8 s window
    with open(failed_report.out_dir / "timeline.csv") as fh:
        timeline = list(csv.DictReader(fh))
    # 30 s of schedule plus the second in which the last answer (29.9 s + 0.1 s) arrived
    assert len(timeline) == 31 and timeline[0]["requests"] == "10"


def test_summary_md_fits_a_pull_request_comment(failed_report) -> None:
    text = (failed_report.out_dir / "summary.md").read_text()
    assert text.startswith("## ❌ surge: FAILED (exit 1)")
    assert "**Knee:** 20 req/s" in text and len(text) < 4000


def test_comparison_deltas_and_regression_gate(tmp_path: Path) -> None:
    baseline = stairs_run(tmp_path, 0.100, run_id="base-20261127T090000Z")
    current = stairs_run(tmp_path, 0.150, run_id="now-20261127T100000Z")
    report = build_report(current, baseline=baseline, warmup_s=2, charts=False)
    deltas = report.comparison.stages.set_index("stage")
    assert deltas.loc[0, "p95_delta"] == pytest.approx(0.5)
    assert deltas.loc[0, "achieved_delta"] == pytest.approx(0.0)
    assert deltas.loc[0, "success_delta"] == pytest.approx(0.0)
    assert len(report.comparison.regressions) == 3
    assert "p95 +50.0%" in report.comparison.regressions[0]
    assert report.exit_code == ExitCode.PASSED  # regressions do not gate by default
    gated = build_report(
        current, baseline=baseline, warmup_s=2, charts=False, regressions_fail=True
    )
    assert gated.exit_code == ExitCode.THRESHOLDS_FAILED
    within = build_report(
        current, baseline=baseline, warmup_s=2, charts=False, tolerance=0.6, regressions_fail=True
    )
    assert within.comparison.regressions == () and within.exit_code == ExitCode.PASSED


def test_cost_formulas_reproduce_the_original_question() -> None:
    result = serverless_vs_servers(CostInputs(rps=5000, hours=24))
    assert result["serverless"]["requests"] == 432_000_000
    # 432 M x $0.20/M + 432 M x 0.1 s x 0.125 GB x $0.0000166667
    assert result["serverless"]["lambda_usd"] == pytest.approx(86.40 + 90.00, abs=0.01)
    assert result["serverless"]["api_gateway_usd"] == pytest.approx(1512.00)
    assert result["serverless"]["total_usd"] == pytest.approx(1688.40, abs=0.01)
    assert result["servers"] == {"instances": 67, "total_usd": pytest.approx(67 * 0.80 * 24)}
    original = serverless_vs_servers(CostInputs(rps=5000, hours=24, server_hourly_usd=0.888))
    assert original["servers"]["total_usd"] == pytest.approx(1427.9, abs=0.1)  # their $1,427


def test_fleet_cost_from_the_manifest(tmp_path: Path) -> None:
    workers = [WorkerEntry(f"w{i}", f"ip-{i // 4}", instance_type="c6i.xlarge") for i in range(8)]
    manifest = written_manifest(
        tmp_path / "a",
        started_at=dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC),
        ended_at=dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.UTC),
        workers=workers,
    )
    cost = fleet_cost(manifest, 1800)
    assert cost.instances == {"c6i.xlarge": 2} and cost.hours == 0.5
    assert cost.usd == pytest.approx(2 * 0.17 * 0.5)
    assert fleet_cost(manifest, 1800, {"c6i.xlarge": 1.0}).usd == pytest.approx(1.0)
    assert fleet_cost(written_manifest(tmp_path / "b", workers=[WorkerEntry("w1")]), 60).usd == 0
    unknown = written_manifest(tmp_path / "c", master=MasterEntry("ip-0", "x9.huge"))
    assert fleet_cost(unknown, 60).usd is None


def test_the_master_instance_is_priced_too_unless_it_hosts_workers(tmp_path: Path) -> None:
    workers = [WorkerEntry("w1", "ip-1", instance_type="c6i.large")]

    def instances(name: str, master: MasterEntry) -> dict[str, int]:
        manifest = written_manifest(tmp_path / name, workers=workers, master=master)
        return fleet_cost(manifest, 3600).instances

    assert instances("own", MasterEntry("ip-0", "c6i.large")) == {"c6i.large": 2}
    shared = MasterEntry("ip-1", "c6i.xlarge")  # one host, one instance
    assert instances("shared", shared) == {"c6i.large": 1}
    assert instances("local", MasterEntry("laptop", None)) == {"c6i.large": 1}


def test_cost_command_json_has_exactly_the_documented_keys(capsys: pytest.CaptureFixture) -> None:
    assert (
        main(
            [
                "cost",
                "--rps",
                "5000",
                "--hours",
                "24",
                "--lambda-memory-mb",
                "1024",
                "--lambda-duration-ms",
                "50",
                "--server-rps",
                "100",
                "--server-hourly-usd",
                "1",
                "--lambda-request-usd-per-million",
                "0.2",
                "--lambda-gb-second-usd",
                "0.00001",
                "--api-gateway-usd-per-million",
                "1",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"serverless", "servers"}
    assert set(data["serverless"]) == {"requests", "lambda_usd", "api_gateway_usd", "total_usd"}
    assert set(data["servers"]) == {"instances", "total_usd"}
    assert data["serverless"]["lambda_usd"] == pytest.approx(86.4 + 432e6 * 0.05 * 1 * 0.00001)
    assert data["serverless"]["api_gateway_usd"] == pytest.approx(432.0)
    assert data["servers"] == {"instances": 50, "total_usd": 1200.0}


def test_cost_command_prints_inputs_formulas_and_named_defaults(
    capsys: pytest.CaptureFixture,
) -> None:
    assert main(["cost", "--rps", "100", "--hours", "1"]) == 0
    out = capsys.readouterr().out
    assert "inputs" in out and "formulas" in out and "results" in out
    assert "default: Lambda list price (us-east-1, 2025)" in out
    assert "ceil(100 / 75) = 2" in out
    assert main(["cost", "--rps", "-5", "--hours", "1"]) == ExitCode.BAD_INPUT
