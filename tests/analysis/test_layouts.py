"""`surge report` gives the same numbers whatever the results layout: layout 2 with small
parts, compacted (also with a crash's left-over small parts), and layout 1 (issue 17).

Both report engines (the default streamed one and the one-frame reader) are checked, and
the verdict's trust figures show that the generator health was read from either place.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from surge.cli import main
from surge.results import write_health
from tests.helpers.big_runs import awkward_run
from tests.helpers.layouts import as_layout_1, compact_run
from tests.helpers.runs import health_rows

COMPARED = ("whole_run", "stages", "endpoints", "failures")


def _summary(run_dir: Path) -> dict:
    main(["report", str(run_dir)])
    summary = json.loads((run_dir / "report" / "summary.json").read_text())
    return {key: summary[key] for key in COMPARED} | {
        "verdict": {k: summary["verdict"][k] for k in ("status", "incomplete")},
        "cpu": summary["verdict"]["trust"]["max_cpu_percent"],
    }


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir, _ = awkward_run(tmp_path_factory.mktemp("layouts"), 60_000, parts_per_worker=6)
    write_health(run_dir, health_rows([f"w{i}" for i in range(4)], 300, cpu=55.0))
    return run_dir


@pytest.mark.parametrize("engine", ["streamed", "frame"])
@pytest.mark.parametrize("layout", ["compacted", "crash-left-overs", "layout-1"])
def test_every_layout_reports_the_same_numbers(
    original: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str, layout: str
) -> None:
    if engine == "frame":
        monkeypatch.setenv("SURGE_REPORT_ENGINE", "frame")
    expected = _summary(shutil.copytree(original, tmp_path / "small"))
    run_dir = shutil.copytree(original, tmp_path / layout)
    if layout == "layout-1":
        as_layout_1(run_dir)
        assert (run_dir / "requests" / "w0" / "part-00005.parquet").exists()
    else:
        compact_run(run_dir, keep_small=layout == "crash-left-overs")
    assert expected["cpu"] == 55.0  # health was read
    assert expected["whole_run"]["requests"] == 60_000
    assert _summary(run_dir) == expected
