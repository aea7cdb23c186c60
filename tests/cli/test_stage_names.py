"""Stage `name:` and numbers from 1, the same in `schedule validate` and the run's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from surge.cli import main
from surge.cli.progress import render


def test_validate_numbers_stages_from_1_with_their_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = tmp_path / "s.yaml"
    schedule.write_text(
        "name: named\ntarget: http://127.0.0.1:1\nload:\n  stages:\n"
        "    - {rps: 5, duration: 10s, name: warm-up}\n    - {rps: 50, duration: 1m}\n"
    )
    assert main(["schedule", "validate", str(schedule)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["1", "0s"] and line.endswith("(warm-up)") for line in lines)
    assert any(line.split()[:2] == ["2", "10s"] and "(" not in line for line in lines)


def test_the_run_line_shows_the_stage_name_and_both_rates() -> None:
    line = render(
        {
            "stage_index": 0,
            "stage_count": 2,
            "stage_name": "warm-up",
            "offered_rps": 5.0,
            "achieved_rps": 4.0,
            "sent_rps": 5.0,
        }
    )
    assert "stage 1/2 warm-up" in line
    assert "5/4 req/s offered/achieved (answered; sent 5)" in line
