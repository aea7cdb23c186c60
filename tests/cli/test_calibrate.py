"""`surge calibrate`: the scenario flat out on one core, the Terraform figure it prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from surge.cli import main
from surge.provisioning.calibrate import Calibration, calibration_schedule, summarise
from surge.schedule import parse_schedule
from tests.helpers.shop import running_shop
from tests.helpers.user_project import SECRET_NAME, SECRET_VALUE, write_user_project


def test_capacity_is_the_median_of_saturated_seconds() -> None:
    rows = [
        {"sent": s, "cpu_percent": c} for s, c in [(500, 40), (3000, 95), (3200, 97), (2900, 92)]
    ]
    result = summarise(rows)
    assert result.saturated and result.rps_per_vcpu == 3000 and result.cpu_peak_percent == 97
    idle = summarise([{"sent": 800, "cpu_percent": 30}, {"sent": 900, "cpu_percent": 35}])
    assert not idle.saturated and idle.rps_per_vcpu == 900  # the target limited it: lower bound
    assert Calibration(5345.7, True, 10, 99).terraform_value() == 5300  # rounded down
    assert Calibration(87, True, 10, 99).terraform_value() == 87


def test_the_calibration_schedule_keeps_scenario_target_and_hosts(tmp_path: Path) -> None:
    path = write_user_project(
        tmp_path, target="http://127.0.0.1:9", stages="[{rps: 5, duration: 1m}]"
    )
    original = path.read_text() + "thresholds: [p95 < 1s]\nstart_at: 2030-01-01T00:00:00Z\n"
    text = calibration_schedule(original, duration_s=5, ceiling_rps=1000)
    flat_out = parse_schedule(text)
    assert flat_out.scenario.locustfile == "locustfiles/browse.py"
    assert flat_out.scenario.env == {"LABEL": "from-env"}
    assert flat_out.allow_hosts == ("127.0.0.1",) and flat_out.target == "http://127.0.0.1:9"
    assert flat_out.duration_s == 5 and flat_out.peak_rate == 1000
    assert flat_out.start_at is None and not flat_out.thresholds
    assert yaml.safe_load(text)["name"] == "own-project-calibrate"


def test_calibrate_refuses_a_target_outside_allow_hosts(tmp_path: Path) -> None:
    path = write_user_project(
        tmp_path, target="http://127.0.0.1:9", stages="[{rps: 5, duration: 1m}]"
    )
    assert main(["calibrate", str(path), "--target", "http://shop.example.com"]) == 2
    assert main(["calibrate", str(path), "--duration", "600"]) == 2


@pytest.mark.integration
def test_calibrate_runs_the_users_scenario_and_prints_the_terraform_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    with running_shop() as shop:
        path = write_user_project(tmp_path, target=shop.url, stages="[{rps: 5, duration: 1m}]")
        code = main(["calibrate", str(path), "--duration", "3", "--ceiling", "1500"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "one core sent" in out
    value = int(out.split("rps_per_vcpu = ")[1].split()[0])
    assert value > 0
